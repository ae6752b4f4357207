import Foundation
import Logging
import NIOConcurrencyHelpers
import Vapor

#if canImport(Glibc)
import Glibc
#endif

/// How log lines are written (`VIGIL_LOG_FORMAT`).
public enum LogFormat: String, Sendable {
    /// The console's lines, on standard output (Vapor's `ConsoleLogger`).
    case text
    /// One JSON object a line, on standard error: `time` (RFC 3339, UTC), `level`, `label`,
    /// `message`, `metadata` (a request's lines carry its `request-id`).
    case json
}

/// The format in force, for every logger of the process. Set from the process environment when
/// logging starts, then from the configuration once it is read (which sees a `.env` file too).
enum LogOutput {
    private static let current = NIOLockedValueBox(LogFormat.text)
    private static let writeLock = NIOLock()

    static var format: LogFormat {
        get { current.withLockedValue { $0 } }
        set { current.withLockedValue { $0 = newValue } }
    }

    /// One JSON line (ending with a line feed).
    static func jsonLine(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var out = "{\"time\":\"" + rfc3339(time) + "\",\"level\":\"" + level.rawValue + "\",\"label\":"
        appendString(label, to: &out)
        out += ",\"message\":"
        appendString(message, to: &out)
        out += ",\"metadata\":"
        appendObject(metadata, to: &out)
        out += "}\n"
        return out
    }

    /// Writes a line whole (lines of several threads never interleave).
    static func writeToStandardError(_ line: String) {
        writeLock.withLock {
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { raw in
                    write(STDERR_FILENO, raw.baseAddress! + offset, raw.count - offset)
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
            bytes.removeAll()
        }
    }

    /// `2026-11-30T05:45:56.123Z`.
    static func rfc3339(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var t = time_t(seconds.rounded(.down))
        var millis = Int(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))
        if millis > 999 { millis = 999 }
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(1900 + parts.tm_year, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    static func appendObject(_ metadata: Logger.Metadata, to out: inout String) {
        out += "{"
        for (i, key) in metadata.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            appendString(key, to: &out)
            out += ":"
            appendValue(metadata[key]!, to: &out)
        }
        out += "}"
    }

    static func appendValue(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let s): appendString(s, to: &out)
        case .stringConvertible(let c): appendString(c.description, to: &out)
        case .dictionary(let d): appendObject(d, to: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                appendValue(v, to: &out)
            }
            out += "]"
        }
    }
}

/// Vigil's log handler: the console's text lines, or JSON lines (`LogOutput.format`). It keeps
/// the logger's metadata itself and hands the console each line's whole metadata.
/// (`RedactingLogHandler` wraps it.)
struct VigilLogHandler: LogHandler {
    let label: String
    var console: any LogHandler
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level {
        didSet { console.logLevel = logLevel }
    }

    init(label: String, console: any LogHandler, level: Logger.Level) {
        self.label = label
        self.console = console
        self.logLevel = level
        self.console.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        event.metadata = all
        switch LogOutput.format {
        case .json:
            LogOutput.writeToStandardError(LogOutput.jsonLine(time: Date(), level: event.level, label: label,
                                                              message: event.message.description, metadata: all))
        case .text:
            console.log(event: event)
        }
    }
}

/// A console that writes plain text (no colours, no cursor commands) to standard error and reads
/// nothing: where the command-line commands' log lines go.
final class StandardErrorConsole: Console, @unchecked Sendable {
    private let lock = NIOLock()
    private var info: [AnySendableHashable: any Sendable] = [:]
    var userInfo: [AnySendableHashable: any Sendable] {
        get { lock.withLock { info } }
        set { lock.withLock { info = newValue } }
    }
    var size: (width: Int, height: Int) { (0, 0) }
    var supportsANSICommands: Bool { false }
    func input(isSecure: Bool) -> String { "" }
    func clear(_ type: ConsoleClear) {}
    func output(_ text: ConsoleText, newLine: Bool) {
        report(error: text.fragments.map(\.string).joined(), newLine: newLine)
    }
    func report(error: String, newLine: Bool) {
        FileHandle.standardError.write(Data((newLine ? error + "\n" : error).utf8))
    }
}
