import Foundation

/// Why a run folder could not be turned into a report. Each case names the file so the message alone
/// tells the user what to fix.
public enum ReportError: Error, Equatable, CustomStringConvertible, Sendable {
    case notAFolder(String)
    case missingFile(folder: String, file: String, why: String)
    case unreadable(file: String, reason: String)
    case malformed(file: String, line: Int?, reason: String)
    case inconsistent(String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .notAFolder(let path):
            return "\(path) is not a run folder (no such directory)"
        case .missingFile(let folder, let file, let why):
            return "\(folder) has no \(file) (\(why))"
        case .unreadable(let file, let reason):
            return "cannot read \(file): \(reason)"
        case .malformed(let file, let line, let reason):
            if let line { return "\(file):\(line): \(reason)" }
            return "\(file): \(reason)"
        case .inconsistent(let reason):
            return reason
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
