import Foundation
import VigilCore

/// An e-mail as Vigil sends it: text and HTML alternatives in UTF-8, RFC 2047 encoded headers,
/// a proper Message-ID and Date, and any extra headers (List-Unsubscribe, …).
public struct MailMessage: Sendable, Equatable {
    public var from: String
    public var to: String
    public var subject: String
    public var text: String
    public var html: String?
    public var extraHeaders: [(String, String)]
    public var messageID: String
    public var date: Date
    /// The envelope sender (SMTP `MAIL FROM`, sendmail `-f`), where bounces go: the From address
    /// unless a bounce address is configured (`Bounces.envelopeSender`).
    public var envelopeFrom: String?
    var envelopeSender: String { MailMessage.address(envelopeFrom ?? from) }

    public init(from: String, to: String, subject: String, text: String, html: String? = nil,
                extraHeaders: [(String, String)] = [], messageID: String, date: Date) {
        self.from = from; self.to = to; self.subject = subject; self.text = text; self.html = html
        self.extraHeaders = extraHeaders; self.messageID = messageID; self.date = date
    }

    public static func == (a: MailMessage, b: MailMessage) -> Bool {
        a.from == b.from && a.to == b.to && a.subject == b.subject && a.text == b.text && a.html == b.html
            && a.messageID == b.messageID && a.date == b.date && a.envelopeFrom == b.envelopeFrom && a.extraHeaders.map { "\($0.0):\($0.1)" } == b.extraHeaders.map { "\($0.0):\($0.1)" }
    }

    /// `<uuid@domain>` for a sender domain.
    public static func newMessageID(domain: String) -> String {
        "<\(UUID().uuidString.lowercased())@\(domain)>"
    }

    /// The bare address of `Name <addr@host>` or `addr@host`.
    public static func address(_ mailbox: String) -> String {
        if let open = mailbox.lastIndex(of: "<"), let close = mailbox.lastIndex(of: ">"), open < close {
            return String(mailbox[mailbox.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        return mailbox.trimmingCharacters(in: .whitespaces)
    }

    /// RFC 2047 encoded-words for a header value that is not plain ASCII (each word ≤ 75 characters).
    public static func encodeHeader(_ value: String) -> String {
        let clean = value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) { return clean }
        var words: [String] = []
        var chunk = ""
        func flush() {
            if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk.utf8).base64EncodedString())?=") }
            chunk = ""
        }
        for ch in clean {
            // 45 bytes of UTF-8 encode to 60 base64 characters: with "=?UTF-8?B?" and "?=" that is 72.
            if chunk.utf8.count + String(ch).utf8.count > 45 { flush() }
            chunk.append(ch)
        }
        flush()
        return words.joined(separator: "\r\n ")
    }

    /// A mailbox header value: the display name encoded, the address as is.
    public static func encodeMailbox(_ mailbox: String) -> String {
        let addr = address(mailbox)
        guard let open = mailbox.lastIndex(of: "<") else { return addr }
        let name = mailbox[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        if name.isEmpty { return "<\(addr)>" }
        let plain = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f }
        let shown = plain ? "\"\(name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" : encodeHeader(name)
        return "\(shown) <\(addr)>"
    }

    public static func rfc5322Date(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return f.string(from: d)
    }

    static func base64Lines(_ s: String) -> String {
        let b = Data(s.utf8).base64EncodedString()
        var lines: [Substring] = []
        var i = b.startIndex
        while i < b.endIndex {
            let j = b.index(i, offsetBy: 76, limitedBy: b.endIndex) ?? b.endIndex
            lines.append(b[i..<j])
            i = j
        }
        return lines.joined(separator: "\r\n")
    }

    /// The message as sent over SMTP DATA (CRLF line endings, before dot-stuffing).
    public func rendered(boundarySeed: String? = nil) -> String {
        var h: [(String, String)] = [
            ("From", Self.encodeMailbox(from)), ("To", Self.encodeMailbox(to)), ("Subject", Self.encodeHeader(subject)),
            ("Date", Self.rfc5322Date(date)), ("Message-ID", messageID), ("MIME-Version", "1.0"),
        ]
        for (k, v) in extraHeaders { h.append((k, Self.encodeHeader(v))) }
        var out = ""
        let boundary = "vigil-" + (boundarySeed ?? String(messageID.filter { $0.isLetter || $0.isNumber }.prefix(24)))
        if let html {
            h.append(("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""))
            out = h.map { "\($0.0): \($0.1)" }.joined(separator: "\r\n") + "\r\n\r\n"
            out += "--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            out += Self.base64Lines(text) + "\r\n"
            out += "--\(boundary)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            out += Self.base64Lines(html) + "\r\n"
            out += "--\(boundary)--\r\n"
        } else {
            h.append(("Content-Type", "text/plain; charset=utf-8"))
            h.append(("Content-Transfer-Encoding", "base64"))
            out = h.map { "\($0.0): \($0.1)" }.joined(separator: "\r\n") + "\r\n\r\n" + Self.base64Lines(text) + "\r\n"
        }
        return out
    }
}
