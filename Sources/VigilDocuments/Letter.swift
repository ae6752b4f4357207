import Foundation
import VigilCore

/// A personalised appeal letter to one target, made from a document's model letter.
public struct AppealLetter: Sendable {
    public var number: UANumber
    public var document: Document
    public var target: Target
    /// The supporter's name as they want it printed; nil prints no name.
    public var senderName: String?
    public var senderTown: String?
    /// Print initials instead of the name (a safety option when writing to some countries).
    public var initialsOnly: Bool
    /// The day the letter is written.
    public var date: PartialDate
    public var url: String

    public init(number: UANumber, document: Document, target: Target, senderName: String?, senderTown: String?,
                initialsOnly: Bool, date: PartialDate, url: String) {
        self.number = number; self.document = document; self.target = target; self.senderName = senderName
        self.senderTown = senderTown; self.initialsOnly = initialsOnly; self.date = date; self.url = url
    }

    public var language: String { document.language }

    /// "Anna-Maria van Dijk" → "A.-M. v. D."
    public static func initials(_ name: String) -> String {
        name.split(whereSeparator: \.isWhitespace).map { word in
            word.split(separator: "-").compactMap { $0.first.map { "\($0.uppercased())." } }.joined(separator: "-")
        }.joined(separator: " ")
    }

    public var signature: String? {
        guard let n = senderName?.trimmingCharacters(in: .whitespacesAndNewlines), !n.isEmpty else { return nil }
        return initialsOnly ? Self.initials(n) : n
    }

    /// The model letter without its own greeting line (the target's salutation replaces it).
    public var letterBody: [Markdown.Block] {
        var blocks = Markdown.parse(document.takeAction?.letter ?? "")
        if let first = blocks.first, case .paragraph(let inlines) = first {
            let text = first.plainText.trimmingCharacters(in: .whitespaces)
            let greeting = !text.contains("\n") && text.count <= 90
                && [",", "،", "，", "：", ":", "!"].contains(where: { text.hasSuffix($0) })
            if greeting && !inlines.isEmpty { blocks.removeFirst() }
        }
        return blocks
    }

    /// The letter as print blocks (shared by the PDF and DOCX renderers).
    public func items() -> [PrintItem] {
        var items: [PrintItem] = []
        let sender = [signature, senderTown].compactMap { $0?.isEmpty == false ? $0 : nil }
        if !sender.isEmpty { items.append(PrintItem(.address(sender), language: language)) }
        items.append(PrintItem(.paragraph([.text(DateText.english(date))], .normal), language: "en"))
        items.append(PrintItem(.address([target.title, target.name, target.organisation].compactMap { $0 } + target.address), language: language))
        if let s = target.salutation(for: language) {
            items.append(PrintItem(.paragraph([.text(s.hasSuffix(",") || s.hasSuffix("،") ? s : s + ",")], .normal), language: language))
        }
        for block in letterBody {
            switch block {
            case .paragraph(let i): items.append(PrintItem(.paragraph(i, .normal), language: language))
            case .heading(_, let i): items.append(PrintItem(.subheading(i.map(\.plainText).joined()), language: language))
            case .quote(let i): items.append(PrintItem(.quote(i.map(\.plainText).joined(), by: nil), language: language))
            case .list(let ordered, let entries):
                for (n, e) in entries.enumerated() { items.append(PrintItem(ordered ? .numbered(n + 1, e) : .bullet(e), language: language)) }
            }
        }
        if let signature { items.append(PrintItem(.paragraph([.text(signature)], .normal), language: language)) }
        items.append(PrintItem(.paragraph([.text("\(number.label) · \(url)")], .small), language: "en"))
        return items
    }

    public var title: String { "\(number.label): \(target.title)" }
}

/// `mailto:` links (RFC 6068) that stay under the length mail clients and browsers accept.
public enum Mailto {
    public static let maximumLength = 2000

    /// Percent-encodes everything but RFC 3986 unreserved characters; line breaks become CRLF.
    public static func encode(_ s: String, keeping extra: String = "") -> String {
        let normalised = s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        var out = ""
        for byte in Array(normalised.utf8) {
            let c = Character(UnicodeScalar(byte))
            if byte < 0x80 && (c.isLetter || c.isNumber || "-._~".contains(c) || extra.contains(c)) {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The link, and whether the body had to be shortened to fit.
    public static func link(to address: String, subject: String, body: String, fullTextURL: String) -> (url: String, shortened: Bool) {
        // The address keeps its "@" (RFC 6068 addr-spec); everything else is percent-encoded.
        let head = "mailto:\(encode(address, keeping: "@"))?subject=\(encode(subject))&body="
        let full = head + encode(body)
        if full.count <= maximumLength { return (full, false) }
        let note = "\n\n[…] \(fullTextURL)"
        var paragraphs = body.components(separatedBy: "\n\n")
        while !paragraphs.isEmpty {
            paragraphs.removeLast()
            let candidate = head + encode(paragraphs.joined(separator: "\n\n") + note)
            if candidate.count <= maximumLength { return (candidate, true) }
        }
        // Even one paragraph is too long: cut words.
        var words = body.split(separator: " ")
        while !words.isEmpty {
            words.removeLast(max(1, words.count / 10))
            let candidate = head + encode(words.joined(separator: " ") + note)
            if candidate.count <= maximumLength { return (candidate, true) }
        }
        return (head + encode(note.trimmingCharacters(in: .whitespacesAndNewlines)), true)
    }
}

extension PDFRenderer {
    public static func render(letter: AppealLetter, options: Options = .init()) throws -> Data {
        try render(items: letter.items(), title: letter.title, date: letter.date, language: letter.language, options: options)
    }
}

extension DOCXRenderer {
    public static func render(letter: AppealLetter) throws -> Data {
        try render(items: letter.items(), title: letter.title, language: letter.language, date: letter.date, footer: nil)
    }
}
