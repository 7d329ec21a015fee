import Foundation
import RunbookEngine

/// Where `audit export --output` writes: never a file of the state database (under any name), an existing
/// file only with `--force`, and always whole: a temporary file (0600) in the same directory, synced, then
/// renamed into place, so a crash leaves either the old file or the new one.
struct ExportFile {
    let path: String
    let force: Bool
    /// What is written, for the sentences that refuse it ("the export", "the key").
    let what: String

    /// Refuse `path` before any work is done (exit 2): a state file, or an existing file without `--force`.
    init(path: String, force: Bool, databasePath: String, what: String = "the export") throws {
        self.path = path
        self.force = force
        self.what = what
        if let stateFile = Self.stateFile(named: path, databasePath: databasePath) {
            throw CLIExit.usage("\(path) is the state database's file \(stateFile); \(what) was not written (choose another --output; --force never replaces it)")
        }
        if !force && Self.exists(path) {
            throw CLIExit.usage("\(path) already exists; \(what) was not written (pass --force to replace it, or choose another --output)")
        }
    }

    /// Write `data` to a temporary file next to `path`, sync it, and move it into place.
    func write(_ data: Data) throws {
        let directory = Self.directory(of: path)
        let temporary = try Self.temporaryFile(in: directory, data, for: path)
        do {
            try moveIntoPlace(temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Without `--force`, a hard link puts the file in place only if the name is still free (another
    /// process may have created it since the check); with it, a rename replaces the old file atomically.
    private func moveIntoPlace(_ temporary: String) throws {
        if !force {
            if link(temporary, path) == 0 {
                unlink(temporary)
                return
            }
            if errno == EEXIST || Self.exists(path) {
                throw CLIExit.usage("\(path) already exists; \(what) was not written (pass --force to replace it, or choose another --output)")
            }
            // A file system without hard links: the name was free a moment ago.
        }
        if rename(temporary, path) != 0 {
            throw CLIExit(ExitCodes.failed, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func temporaryFile(in directory: String, _ data: Data, for path: String) throws -> String {
        var template = Array((directory + "/.runbook-export-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else {
            throw CLIExit(ExitCodes.failed, "cannot write \(path): cannot create a file in \(directory): \(String(cString: strerror(errno)))")
        }
        let temporary = template.withUnsafeBufferPointer { buffer in buffer.baseAddress.map { String(cString: $0) } ?? "" }
        var failure: Int32 = 0
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let written = Foundation.write(fd, base + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(temporary)
            throw CLIExit(ExitCodes.failed, "cannot write \(path): \(String(cString: strerror(failure)))")
        }
        return temporary
    }

    /// The database, -wal or -shm file `path` names, under whatever name: the same device and inode when
    /// both exist, else the same path once symbolic links and `..` are resolved.
    static func stateFile(named path: String, databasePath: String) -> String? {
        var target = stat()
        let targetExists = stat(path, &target) == 0
        let resolvedTarget = resolved(path)
        for file in [databasePath, databasePath + "-wal", databasePath + "-shm"] {
            var info = stat()
            if targetExists && stat(file, &info) == 0 && info.st_dev == target.st_dev && info.st_ino == target.st_ino {
                return file
            }
            if let resolvedTarget, resolvedTarget == resolved(file) { return file }
        }
        return nil
    }

    /// `path` made absolute with symbolic links and `.`/`..` resolved; a missing last component is kept.
    static func resolved(_ path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if let real = realpath(absolute, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let name = (absolute as NSString).lastPathComponent
        guard let real = realpath((absolute as NSString).deletingLastPathComponent, nil) else { return nil }
        defer { free(real) }
        return (String(cString: real) as NSString).appendingPathComponent(name)
    }

    /// Whether anything (a dangling symbolic link included) has this name.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The directory part of `path` ("." for a bare name). Not `NSString.deletingLastPathComponent`, which
    /// traps on a one-character name.
    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
