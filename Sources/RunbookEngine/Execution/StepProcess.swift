import Foundation

/// A process group an action started for one invocation, recorded (as a `process_started` event) before
/// the command runs, so that a driver taking the run over can stop what a dead driver left running.
///
/// A pid is reused once its process is gone, so the record also carries what tells the group apart from a
/// later one with the same number: the leader's start time and the machine's boot, and a marker placed in
/// the command's environment.
public struct StepProcess: Sendable, Equatable {
    /// The environment variable that carries `marker` to the command and everything it starts.
    public static let markerVariable = "RUNBOOK_PROCESS_MARKER"

    /// The process group id (its leader's pid).
    public var group: Int32
    /// The leader's start time in clock ticks after boot (field 22 of /proc/PID/stat); 0 when unknown.
    public var leaderStartTime: UInt64
    /// The boot it started in (/proc/sys/kernel/random/boot_id): start times begin again at each boot.
    public var bootID: String
    public var host: String
    /// A value unique to this invocation, in the command's environment as `RUNBOOK_PROCESS_MARKER`.
    public var marker: String

    public init(group: Int32, leaderStartTime: UInt64, bootID: String, host: String, marker: String) {
        self.group = group
        self.leaderStartTime = leaderStartTime
        self.bootID = bootID
        self.host = host
        self.marker = marker
    }

    /// The record of a group whose leader `group` is running now on this machine.
    public static func started(group: Int32, marker: String) -> StepProcess {
        StepProcess(group: group, leaderStartTime: ProcessTable.startTime(of: group) ?? 0,
                    bootID: ProcessTable.bootID, host: ProcessInfo.processInfo.hostName, marker: marker)
    }

    var detail: [String: String] {
        ["process_group": String(group), "leader_start_time": String(leaderStartTime), "boot_id": bootID,
         "host": host, "marker": marker]
    }

    init?(detail: [String: String]) {
        guard let group = detail["process_group"].flatMap(Int32.init), group > 1,
              let host = detail["host"], let marker = detail["marker"], !marker.isEmpty else { return nil }
        self.init(group: group, leaderStartTime: detail["leader_start_time"].flatMap(UInt64.init) ?? 0,
                  bootID: detail["boot_id"] ?? "", host: host, marker: marker)
    }
}

/// What /proc says about processes (Linux).
enum ProcessTable {
    static let bootID = ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)

    /// A live (not zombie) process: its pid, process group and start time.
    struct Entry {
        var pid: Int32
        var group: Int32
        var startTime: UInt64
    }

    /// The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses).
    private static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// `pid`'s entry, or nil when it does not exist or has exited (a zombie awaiting its parent).
    static func entry(_ pid: Int32) -> Entry? {
        // After the name: state (field 3), ppid, pgrp (5), … starttime (22).
        guard let fields = statFields(pid), fields.count > 19, fields[0] != "Z", fields[0] != "X",
              let group = Int32(fields[2]), let start = UInt64(fields[19]) else { return nil }
        return Entry(pid: pid, group: group, startTime: start)
    }

    static func startTime(of pid: Int32) -> UInt64? { entry(pid)?.startTime }

    /// The live members of process group `group`.
    static func members(of group: Int32) -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0) }.compactMap(entry).filter { $0.group == group }
    }

    /// Whether `pid`'s environment holds `variable=value`.
    static func environment(of pid: Int32, contains variable: String, _ value: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        let wanted = Data("\(variable)=\(value)".utf8)
        return data.split(separator: 0).contains { Data($0) == wanted }
    }

    /// The live members of `process`'s group if the group is still that invocation's (its leader with the
    /// recorded start time, or a member with its marker), else none.
    static func survivors(of process: StepProcess) -> [Entry] {
        guard process.bootID == bootID else { return [] }
        let members = self.members(of: process.group)
        let ours = members.contains { member in
            (member.pid == process.group && process.leaderStartTime != 0 && member.startTime == process.leaderStartTime)
                || environment(of: member.pid, contains: StepProcess.markerVariable, process.marker)
        }
        return ours ? members : []
    }
}
