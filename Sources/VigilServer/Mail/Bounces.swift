import Crypto
import Foundation

/// Bounces and complaints that arrive by mail, after the relay accepted a message.
///
/// With `VIGIL_MAIL_BOUNCE_ADDRESS` set (say `bounces@example.org`), every message goes out with
/// the envelope sender `bounces+TAG@example.org` (VERP), where TAG is an HMAC of the recipient's
/// address under the server secret. Bounces (RFC 3464 delivery status notifications) come back to
/// that address; complaints (RFC 5965 feedback reports from a provider's feedback loop) carry the
/// original message's headers, whose `Return-Path` holds the same address. The mail server hands
/// each such message to `vigil mail bounce` (a pipe in its aliases or transports).
///
/// An address is suppressed only when the report names it as failed for good (`Action: failed`,
/// a 5.1.x or 5.2.1 status: the address itself is bad) or complains about mail to it, *and* a tag
/// that came with the report is that address's tag, made within the last months (`tagMonths`). So a report forged by someone who wants a supporter cut off names an address
/// whose tag they cannot make; an out-of-office reply (sent to the envelope sender too, RFC 3834)
/// or a delay notice suppresses nothing. The tag says nothing about the address to anyone without
/// the secret, and nothing is stored.
enum Bounces {
    /// A tag is accepted in the month it was made and this many months after: bounces come back
    /// within days, complaints within weeks; someone who once saw a message's Return-Path (a
    /// forwarded alert) cannot cut its recipient off for ever.
    static let tagMonths = 3
    /// At most this many tags and this many named addresses are looked at in one report.
    static let maxTags = 32, maxAddresses = 100

    /// `local+TAG@domain` for mail to `recipient`, or nil when no bounce address is configured.
    static func envelopeSender(for recipient: String, bounceAddress: String?, secret: ServerSecret, now: Date = Date()) -> String? {
        guard let bounceAddress, let at = bounceAddress.lastIndex(of: "@") else { return nil }
        return "\(bounceAddress[..<at])+\(tag(for: recipient, key: secret, month: month(of: now)))\(bounceAddress[at...])"
    }

    /// Months since January 2000 (UTC).
    static func month(of date: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month], from: date)
        return ((c.year ?? 2000) - 2000) * 12 + (c.month ?? 1) - 1
    }

    /// 20 hex digits: the month (4) and 64 bits of HMAC-SHA256 over the month and the
    /// normalised address (16).
    static func tag(for recipient: String, key secret: ServerSecret, month: Int) -> String {
        let normal = MailMessage.address(recipient).trimmingCharacters(in: .whitespaces).lowercased()
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(month):\(normal)".utf8), using: secret.key(for: "mail-bounce"))
        return String(format: "%04x", month & 0xffff) + Hex.string(mac.prefix(8))
    }

    /// The tag in an address of the form `local+TAG@domain` (local and domain those of the bounce
    /// address, compared without regard to case), else nil.
    static func tag(in address: String, bounceAddress: String) -> String? {
        let a = MailMessage.address(address).lowercased(), b = bounceAddress.lowercased()
        guard let at = b.lastIndex(of: "@"), let aAt = a.lastIndex(of: "@"), a[aAt...] == b[at...] else { return nil }
        let prefix = b[..<at] + "+"
        let local = a[..<aAt]
        guard local.hasPrefix(prefix) else { return nil }
        let tag = String(local.dropFirst(prefix.count))
        guard tag.count == 20, tag.allSatisfy({ $0.isHexDigit }) else { return nil }
        return tag
    }

    /// Every tag `recipient` may carry now: each key of the secret's ring (mail sent before a
    /// rotation bounces after it), each month of the window.
    static func acceptedTags(for recipient: String, secret: ServerSecret, now: Date = Date()) -> Set<String> {
        let current = month(of: now)
        var out: Set<String> = []
        for key in secret.ring {
            for m in (current - tagMonths)...current { out.insert(tag(for: recipient, key: key, month: m)) }
        }
        return out
    }

    /// True when `tag` is a tag `recipient` may carry now.
    static func verify(tag: String, recipient: String, secret: ServerSecret, now: Date = Date()) -> Bool {
        acceptedTags(for: recipient, secret: secret, now: now).contains(tag.lowercased())
    }

    /// The months a tag names (for finding who it was made for), if within the window.
    static func monthOf(tag: String, now: Date = Date()) -> Int? {
        guard let m = Int(tag.prefix(4), radix: 16) else { return nil }
        let current = month(of: now)
        return (current - tagMonths...current).contains(m) ? m : nil
    }

    /// Among `candidates` (addresses Vigil mailed in the tags' months), those a tag names.
    static func resolve(tags: Set<String>, candidates: [String], secret: ServerSecret, now: Date = Date()) -> [String] {
        let wanted = Set(tags.map { $0.lowercased() }.filter { monthOf(tag: $0, now: now) != nil })
        guard !wanted.isEmpty else { return [] }
        return Array(Set(candidates.map { $0.lowercased() }.filter { !acceptedTags(for: $0, secret: secret, now: now).isDisjoint(with: wanted) })).sorted()
    }

    /// An RFC 3463 status that says the address itself is bad for good: 5.1.x (no such mailbox,
    /// no such domain, bad syntax) and 5.2.1 (mailbox disabled). Other permanent failures — policy
    /// (5.7.x: the relay's address blocked, SPF or DMARC failing), a full mailbox (5.2.2), routing
    /// (5.4.x) — are not the address's fault and suppress nobody, as a 554 to DATA does not.
    static func isBadAddress(_ status: String) -> Bool {
        let code = status.split(whereSeparator: { $0 == " " || $0 == "(" || $0 == "\t" }).first.map(String.init) ?? ""
        let parts = code.split(separator: ".")
        guard parts.count == 3, parts[0] == "5" else { return false }
        return parts[1] == "1" || (parts[1] == "2" && parts[2] == "1")
    }

    /// What `vigil mail bounce` decided about one message.
    struct Verdict: Equatable, Sendable {
        enum Kind: String, Sendable { case bounce, complaint, none }
        var kind: Kind
        /// Addresses to suppress (verified by their tag).
        var suppress: [String] = []
        /// Addresses the report named but whose tag did not match (or came with no tag).
        var unverified = 0
        /// Recipients reported but not failed for good (delayed, relayed, a 4.x.x status).
        var transient = 0
        /// Recipients failed for a reason that is not their address (policy, a full mailbox, routing).
        var notTheAddress = 0
        /// A complaint whose addresses are redacted (most feedback loops do): its tags, for
        /// `resolve` against the addresses Vigil mailed.
        var unresolvedTags: Set<String> = []
        /// Why nothing was suppressed, when nothing was.
        var note: String?
    }

    /// Reads one message (a DSN, a feedback report, or anything else that reached the bounce
    /// address). `envelopeRecipient`: the address the mail server delivered it to, when it says
    /// (Postfix's `${original_recipient}`); the message's own `X-Original-To`, `Delivered-To`
    /// and `To` are read too.
    static func read(_ raw: Data, envelopeRecipient: String?, bounceAddress: String, secret: ServerSecret, now: Date = Date()) -> Verdict {
        let message = MIMEPart(raw)
        var tags: Set<String> = []
        for candidate in [envelopeRecipient].compactMap({ $0 })
            + message.headers(["x-original-to", "delivered-to", "envelope-to", "to"]).flatMap(Self.addresses) {
            if let t = tag(in: candidate, bounceAddress: bounceAddress) { tags.insert(t) }
        }
        var failed: [[String]] = [], complained: [String] = [], transient = 0, notTheAddress = 0
        var isReport = false, isComplaint = false
        for part in message.leaves() {
            switch part.contentType {
            case "message/delivery-status", "message/global-delivery-status":
                isReport = true
                for block in MIMEPart.fieldBlocks(part.body).dropFirst() {  // the first block is about the message
                    // Both: an alias or a forward makes Final-Recipient an address Vigil never
                    // mailed, while the tag is that of Original-Recipient.
                    let names = [block["original-recipient"], block["final-recipient"]].compactMap { $0.flatMap(Self.typedAddress) }
                    guard !names.isEmpty else { continue }
                    let action = block["action"]?.lowercased().trimmingCharacters(in: .whitespaces) ?? ""
                    let status = block["status"]?.trimmingCharacters(in: .whitespaces) ?? ""
                    if action == "failed" && isBadAddress(status) {
                        failed.append(names)
                    } else if action == "failed" && status.hasPrefix("5") {
                        notTheAddress += 1
                    } else {
                        transient += 1
                    }
                }
            case "message/feedback-report":
                isComplaint = true
                for block in MIMEPart.fieldBlocks(part.body) {
                    if let r = block["original-rcpt-to"].flatMap(Self.addresses)?.first { complained.append(r) }
                }
            case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global", "message/global-headers":
                // The original message (or its headers): its Return-Path carries the tag it went
                // out with; its To names the recipient (when the feedback loop has not redacted it).
                let original = MIMEPart(part.body)
                for rp in original.headers(["return-path"]).flatMap(Self.addresses) {
                    if let t = tag(in: rp, bounceAddress: bounceAddress) { tags.insert(t) }
                }
                if isComplaint || message.reportType == "feedback-report" {
                    complained += original.headers(["to"]).flatMap(Self.addresses)
                }
            default: break
            }
        }
        if message.reportType == "feedback-report" { isComplaint = true }
        // Bounded work whatever the report holds: a tag's check is a few HMACs.
        let tagSet = Set(tags.prefix(maxTags).map { $0.lowercased() })
        let groups: [[String]] = Array((isComplaint ? complained.map { [$0] } : failed).prefix(maxAddresses))
        var verdict = Verdict(kind: isComplaint ? .complaint : (isReport ? .bounce : .none), transient: transient)
        verdict.notTheAddress = notTheAddress
        var suppress: Set<String> = []
        for names in groups {
            let matched = names.map { $0.lowercased() }.filter { !acceptedTags(for: $0, secret: secret, now: now).isDisjoint(with: tagSet) }
            if matched.isEmpty { verdict.unverified += 1 } else { suppress.formUnion(matched) }
        }
        verdict.suppress = suppress.sorted()
        if isComplaint && suppress.isEmpty { verdict.unresolvedTags = tagSet }
        if verdict.suppress.isEmpty {
            verdict.note = !isReport && !isComplaint ? "not a delivery status notification or a feedback report (an automatic reply?)"
                : isComplaint && !tagSet.isEmpty ? nil
                : groups.isEmpty ? "it names no address that failed for good"
                : tagSet.isEmpty ? "it carries no tag of Vigil's (not a report on mail Vigil sent, or VIGIL_MAIL_BOUNCE_ADDRESS has changed)"
                : "the addresses it names do not match its tag (a forged, misdirected or too old report)"
        }
        return verdict
    }

    /// `rfc822; a@b` → `a@b`.
    static func typedAddress(_ value: String) -> String? {
        let parts = value.split(separator: ";", maxSplits: 1)
        let address = (parts.count == 2 ? String(parts[1]) : value).trimmingCharacters(in: .whitespaces)
        return addresses(address).first
    }

    /// The addresses in a header value: `<a@b>` forms, or bare `a@b` words.
    static func addresses(_ value: String) -> [String] {
        var out: [String] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            out.append(String(rest[rest.index(after: open)..<close]).trimmingCharacters(in: .whitespaces))
            rest = rest[rest.index(after: close)...]
        }
        if out.isEmpty {
            out = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
                .filter { $0.contains("@") }
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"'();")) }
        }
        return out.filter { $0.contains("@") && $0.utf8.count <= 320 }
    }
}

/// The little of MIME (RFC 2045–2046) a bounce needs: headers (unfolded), a content type with
/// its parameters, multipart bodies split on their boundary, base64 and quoted-printable bodies.
/// Bounded: at most 64 parts and 8 levels deep.
struct MIMEPart {
    var headerFields: [(String, String)] = []
    var body: Data
    var contentType: String
    var parameters: [String: String]
    var children: [MIMEPart] = []

    var reportType: String? { parameters["report-type"]?.lowercased() }

    init(_ raw: Data, depth: Int = 0, budget: inout Int) {
        let bytes = [UInt8](raw)
        // Headers end at the first empty line (CRLF CRLF or LF LF).
        var split = bytes.count, bodyStart = bytes.count
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { split = i; bodyStart = i + 2; break }
                if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { split = i; bodyStart = i + 3; break }
            }
            i += 1
        }
        if split == bytes.count, bytes.first == 0x0A || bytes.first == 0x0D { split = 0; bodyStart = bytes.first == 0x0D ? 2 : 1 }
        let headerText = String(decoding: bytes[0..<min(split, bytes.count)], as: UTF8.self)
        headerFields = MIMEPart.fields(headerText)
        let rawBody = Data(bytes[min(bodyStart, bytes.count)...])
        let type = headerFields.first { $0.0 == "content-type" }?.1 ?? "text/plain"
        let pieces = type.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        contentType = pieces.first?.lowercased() ?? "text/plain"
        parameters = [:]
        for p in pieces.dropFirst() {
            guard let eq = p.firstIndex(of: "=") else { continue }
            parameters[p[..<eq].lowercased().trimmingCharacters(in: .whitespaces)] =
                p[p.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: "\" \t"))
        }
        switch headerFields.first(where: { $0.0 == "content-transfer-encoding" })?.1.lowercased().trimmingCharacters(in: .whitespaces) {
        case "base64": body = Data(base64Encoded: String(decoding: rawBody, as: UTF8.self).filter { !$0.isWhitespace }) ?? rawBody
        case "quoted-printable": body = MIMEPart.quotedPrintable(rawBody)
        default: body = rawBody
        }
        if contentType.hasPrefix("multipart/"), let boundary = parameters["boundary"], !boundary.isEmpty, depth < 8 {
            for chunk in MIMEPart.split(body, boundary: boundary) {
                guard budget > 0 else { break }
                budget -= 1
                children.append(MIMEPart(chunk, depth: depth + 1, budget: &budget))
            }
        }
    }

    init(_ raw: Data) {
        var budget = 64
        self.init(raw, budget: &budget)
    }

    func headers(_ names: Set<String>) -> [String] { headerFields.filter { names.contains($0.0) }.map(\.1) }

    /// The parts that are not multiparts, depth first.
    func leaves() -> [MIMEPart] { children.isEmpty ? [self] : children.flatMap { $0.leaves() } }

    /// `name: value` lines, continuation lines joined; names lower-cased.
    static func fields(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let l = line.hasSuffix("\r") ? line.dropLast() : Substring(line)
            if let first = l.first, first == " " || first == "\t" {
                if !out.isEmpty { out[out.count - 1].1 += " " + l.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = l.firstIndex(of: ":") else { continue }
            out.append((l[..<colon].lowercased().trimmingCharacters(in: .whitespaces), l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return out
    }

    /// The blocks of a delivery-status or feedback-report body (blank-line separated groups of fields).
    static func fieldBlocks(_ body: Data) -> [[String: String]] {
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        return text.components(separatedBy: "\n\n").map { block in
            var d: [String: String] = [:]
            for (k, v) in fields(block) where d[k] == nil { d[k] = v }
            return d
        }.filter { !$0.isEmpty }
    }

    static func split(_ body: Data, boundary: String) -> [Data] {
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        let delimiter = "--" + boundary
        var parts: [Data] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == delimiter + "--" {
                if let c = current { parts.append(Data(c.joined(separator: "\n").utf8)) }
                current = nil
                break
            }
            if trimmed == delimiter {
                if let c = current { parts.append(Data(c.joined(separator: "\n").utf8)) }
                current = []
                continue
            }
            current?.append(line)
        }
        if let c = current { parts.append(Data(c.joined(separator: "\n").utf8)) }
        return parts
    }

    static func quotedPrintable(_ data: Data) -> Data {
        let b = [UInt8](data)
        var out: [UInt8] = []
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x37
            case 0x61...0x66: c - 0x57
            default: nil
            }
        }
        while i < b.count {
            if b[i] == 0x3D {  // '='
                if i + 1 < b.count, b[i + 1] == 0x0A { i += 2; continue }
                if i + 2 < b.count, b[i + 1] == 0x0D, b[i + 2] == 0x0A { i += 3; continue }
                if i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) { out.append(h << 4 | l); i += 3; continue }
            }
            out.append(b[i]); i += 1
        }
        return Data(out)
    }
}
