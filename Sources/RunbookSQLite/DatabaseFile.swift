import CSQLite
import Foundation
import RunbookEngine

/// The state files on disk: the database and, while it is open, its `-wal` and `-shm` files next to it.
/// Checks made before SQLite touches them, so a refused file is left exactly as it was.
enum DatabaseFile {
    static let sideFileSuffixes = ["-wal", "-shm"]

    /// Create the database's directory (0700) and an empty file (0600) when missing; make an existing file
    /// and its side files private. Returns a note for each file that was readable by others.
    static func prepare(_ path: String, create: Bool) throws -> [String] {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { return makePrivate(path) }
        guard create else { throw DatabaseOpenError("no runbook database at \(path)") }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !fm.fileExists(atPath: directory) {
            do {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw DatabaseOpenError("cannot create the directory \(directory) for the runbook database: \(error.localizedDescription)")
            }
        }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0 && errno != EEXIST {
            throw DatabaseOpenError("cannot create the runbook database \(path): \(String(cString: strerror(errno)))")
        }
        if fd >= 0 {
            fchmod(fd, 0o600)
            close(fd)
        }
        return []
    }

    /// Restrict the database and its side files to their owner. SQLite gives new side files the database's
    /// mode, so fixing the database first keeps the WAL (which holds recent outputs) private too.
    private static func makePrivate(_ path: String) -> [String] {
        var notes: [String] = []
        for file in [path] + sideFileSuffixes.map({ path + $0 }) {
            var info = stat()
            guard stat(file, &info) == 0, info.st_mode & 0o077 != 0 else { continue }
            let was = String(info.st_mode & 0o777, radix: 8)
            if chmod(file, 0o600) == 0 {
                notes.append("\(file) was readable by others (mode 0\(was)); it is now 0600, readable by its owner only")
            } else {
                notes.append("\(file) is readable by others (mode 0\(was)) and could not be made private: \(String(cString: strerror(errno)))")
            }
        }
        return notes
    }

    /// Whether the database's directory can take new files (its -wal and -shm).
    static func directoryIsWritable(_ path: String) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        return access(directory.isEmpty ? "." : directory, W_OK) == 0
    }

    /// Which side files exist now.
    static func existingSideFiles(_ path: String) -> Set<String> {
        Set(sideFileSuffixes.filter { FileManager.default.fileExists(atPath: path + $0) })
    }

    /// Refuse a file SQLite would misread without noticing: one whose size is not a whole number of pages
    /// (SQLite reads the missing end of the last page as zeros), or, with no WAL to complete it, shorter
    /// than its header says. Files that are not SQLite at all are left to the schema check.
    static func checkShape(_ path: String, hasWAL: Bool) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size >= 100 else { return }
        try? handle.seek(toOffset: 0)
        guard let header = try? handle.read(upToCount: 100), header.count == 100,
              header.prefix(16) == Data("SQLite format 3\0".utf8) else { return }
        let bytes = [UInt8](header)
        let rawPageSize = Int(bytes[16]) << 8 | Int(bytes[17])
        let pageSize = rawPageSize == 1 ? 65536 : rawPageSize
        guard pageSize >= 512, pageSize.nonzeroBitCount == 1 else { return }
        if size % UInt64(pageSize) != 0 {
            throw damaged(path, "its size, \(size) bytes, is not a whole number of \(pageSize)-byte pages: it was cut short or overwritten")
        }
        let bigEndian = { (offset: Int) in bytes[offset..<offset + 4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        let headerPages = bigEndian(28)
        let headerIsCurrent = bigEndian(24) == bigEndian(92)
        if !hasWAL && headerIsCurrent && headerPages > size / UInt64(pageSize) {
            throw damaged(path, "it has \(size / UInt64(pageSize)) pages but its header says \(headerPages): it was cut short")
        }
    }

    /// `PRAGMA quick_check` (every page and record of every table and index is read; indexes are not
    /// compared with their tables). A file that is not SQLite at all is left to the schema check.
    static func checkIntegrity(_ connection: SQLiteConnection) throws {
        let problems: [String]
        do {
            problems = try connection.query("PRAGMA quick_check(3)") { $0.text(0) }
        } catch let error as SQLiteError where error.code == SQLITE_CORRUPT {
            throw damaged(connection.path, error.message)
        } catch let error as SQLiteError where error.code == SQLITE_NOTADB {
            return
        }
        if problems != ["ok"] {
            throw damaged(connection.path, "SQLite's integrity check reports: \(problems.joined(separator: "; "))")
        }
    }

    static func damaged(_ path: String, _ detail: String) -> DatabaseOpenError {
        DatabaseOpenError("the runbook database \(path) is damaged (\(detail)); it was left untouched — restore it from a backup (copy the backup's .sqlite file into its place), or move it aside to start an empty one")
    }
}

/// Plain sentences for SQLite failures a user can act on: a damaged, read-only or full database.
enum StoreFailure {
    /// What a later command can do once the problem is fixed.
    enum Afterwards {
        /// The run exists: `runbook resume` continues it from its last checkpoint.
        case resume(runID: String)
        /// Nothing was recorded (a run that was not created): run the command again.
        case again(what: String)
        /// A read: nothing to continue.
        case nothing
    }

    /// `error` as a `RunStoreError(.storage)` with a sentence, when it is one of those; otherwise unchanged.
    static func describe(_ error: any Error, path: String, afterwards: Afterwards) -> any Error {
        guard let sqlite = error as? SQLiteError else { return error }
        let hint: String
        switch afterwards {
        case .resume(let runID): hint = "`runbook resume \(runID)` continues the run from its last checkpoint"
        case .again(let what): hint = what
        case .nothing: hint = "run the command again"
        }
        switch sqlite.code {
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return RunStoreError(.storage, DatabaseFile.damaged(path, sqlite.message).message)
        case SQLITE_READONLY:
            return RunStoreError(.storage, "cannot write to the runbook database \(path): it is read-only (the file or its directory \((path as NSString).deletingLastPathComponent) is not writable by this user); once it is writable, \(hint)")
        case SQLITE_FULL:
            return RunStoreError(.storage, "cannot write to the runbook database \(path): the disk is full; once there is space, \(hint)")
        case SQLITE_CANTOPEN:
            return RunStoreError(.storage, unopenable(path, sqlite.message) + "; once that is fixed, \(hint)")
        case SQLITE_IOERR:
            return RunStoreError(.storage, "cannot use the runbook database \(path): the disk reported an error (\(sqlite.message)); once the disk is healthy, \(hint)")
        default:
            return error
        }
    }

    /// Why SQLite could not open the file or create its -wal and -shm files next to it.
    static func unopenable(_ path: String, _ message: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let shown = directory.isEmpty ? "." : directory
        if !DatabaseFile.directoryIsWritable(path) {
            return "cannot open the runbook database \(path): its directory \(shown) is not writable, and SQLite keeps the -wal and -shm files of an open database there"
        }
        return "cannot open the runbook database \(path) (\(message)); check that the file and its directory \(shown) are readable and writable by this user"
    }
}
