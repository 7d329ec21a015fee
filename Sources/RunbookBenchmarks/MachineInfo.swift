import Foundation

/// What the benchmark ran on.
public struct MachineInfo: Sendable {
    public var cores: Int
    public var cpuModel: String
    public var kernel: String
    public var swift: String
    public var directory: String
    /// The filesystem holding `directory`: mount point, type and device from /proc/mounts.
    public var filesystem: String

    public static func current(directory: String) -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return MachineInfo(
            cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, kernel: kernel,
            swift: compilerVersion, directory: directory, filesystem: filesystem(of: directory))
    }

    static var compilerVersion: String {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }

    /// The longest mount point that contains `path`, as "MOUNT (TYPE on DEVICE)".
    static func filesystem(of path: String) -> String {
        let resolved = (path as NSString).resolvingSymlinksInPath
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return "unknown" }
        var best: (mount: String, type: String, device: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 3 else { continue }
            let mount = fields[1].replacingOccurrences(of: "\\040", with: " ")
            let inside = mount == "/" || resolved == mount || resolved.hasPrefix(mount + "/")
            if inside && mount.count >= (best?.mount.count ?? -1) { best = (mount, fields[2], fields[0]) }
        }
        return best.map { "\($0.mount) (\($0.type) on \($0.device))" } ?? "unknown"
    }

    /// VmHWM (peak resident set size) of this process, in kilobytes.
    public static func peakResidentKB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }
}
