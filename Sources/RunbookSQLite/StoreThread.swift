import Foundation

/// The store's own thread. It runs every SQLite call of one `SQLiteRunStore` and is also a `TaskExecutor`:
/// the engine runs the task that drives a run on it (`withTaskExecutorPreference`), so committing a
/// checkpoint is a plain call on the current thread instead of a hand-off to a queue and back. With a queue,
/// a sequential step cost two or three thread wake-ups, together about a third of a durable commit on a
/// 2-core VM.
///
/// Work is run in arrival order. Callers on other threads (CLI reads, a heartbeat, a second engine) submit
/// closures and wait for them as before.
final class StoreThread: TaskExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case block(() -> Void)
    }

    private let condition = NSCondition()
    private var queue: [Work] = []
    private var stopping = false
    private var stopped = false
    /// Set once by the thread before `init` returns; read-only afterwards.
    private var threadID = pthread_t()

    init(name: String) {
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            threadID = pthread_self()
            ready.signal()
            loop()
        }
        thread.name = name
        thread.start()
        ready.wait()
    }

    /// Whether the caller is running on this thread.
    var isCurrent: Bool { pthread_equal(pthread_self(), threadID) != 0 }

    /// Run `block` on the thread, after the work already queued.
    func submit(_ block: @escaping () -> Void) {
        if !add(.block(block)) {
            // Stopped (the store is gone): run it elsewhere rather than never; it is the only one running it.
            let late = LateBlock(run: block)
            DispatchQueue.global().async { late.run() }
        }
    }

    /// Run `body` on the thread and wait for it (inline when already on it).
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        if isCurrent { return try body() }
        let box = ResultBox<Result<T, any Error>>()
        let done = DispatchSemaphore(value: 0)
        submit {
            box.value = Result { try body() }
            done.signal()
        }
        done.wait()
        guard let result = box.value else { throw CancellationError() }
        return try result.get()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !add(.job(job)) {
            DispatchQueue.global().async {
                job.runSynchronously(on: globalConcurrentExecutor.asUnownedTaskExecutor())
            }
        }
    }

    /// Finish the queued work, then end the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func add(_ work: Work) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return false }
        queue.append(work)
        if queue.count == 1 { condition.signal() }
        return true
    }

    private func loop() {
        let executor = asUnownedTaskExecutor()
        var batch: [Work] = []
        condition.lock()
        while true {
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                stopped = true
                condition.unlock()
                return
            }
            swap(&batch, &queue)
            condition.unlock()
            for work in batch {
                switch work {
                case .job(let job): job.runSynchronously(on: executor)
                case .block(let block): block()
                }
            }
            batch.removeAll(keepingCapacity: true)
            condition.lock()
        }
    }
}

/// A block handed to another thread after the store thread stopped; nothing else runs it.
private struct LateBlock: @unchecked Sendable {
    let run: () -> Void
}
