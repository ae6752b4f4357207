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

    /// Whether the letter reads right to left (Arabic, Hebrew, Persian…): every block of it is
    /// then laid out right to left, and Latin-script runs inside it keep their own direction.
    public var isRightToLeft: Bool { LanguageTag.isRightToLeft(language) }

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
        items.append(PrintItem(.paragraph([.text(DateText.text(date, language: language))], .normal), language: language))
        items.append(PrintItem(.address([target.title, target.name, target.organisation].compactMap { $0 } + target.address), language: language))
        if let s = target.salutation(for: language) {
            // Arabic-script languages end the greeting with the Arabic comma.
            let comma = ["ar", "fa", "ur", "ps", "ckb", "sd", "ug"].contains(language.split(separator: "-").first.map(String.init) ?? "") ? "،" : ","
            items.append(PrintItem(.paragraph([.text(s.hasSuffix(",") || s.hasSuffix("،") ? s : s + comma)], .normal), language: language))
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

    /// Percent-encodes everything but RFC 3986 unreserved characters (and the ASCII characters of
    /// `extra`); line breaks become CRLF (a lone LF gains its CR; CRLF and a lone CR stay).
    ///
    /// Byte by byte (`PercentEncoding`): a document page makes a link for each official it names,
    /// each from the whole letter and again for each paragraph it leaves out to fit, and in
    /// Cyrillic, Arabic or Chinese every byte of the letter is encoded.
    public static func encode(_ s: String, keeping extra: String = "") -> String {
        PercentEncoding.encode(s, keeping: extra, lineBreaksAsCRLF: true)
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

/// Which language a letter to an official is written in, and why.
public struct LetterLanguage: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// The official's first preferred language.
        case preferred
        /// One of the official's preferred languages, though not the first (no translation in that one).
        case alsoPreferred(first: String)
        /// None of the official's preferred languages has a translation of the model letter.
        case noTranslation(preferred: String)
        /// The official states no preference: the document's own language.
        case noPreference
    }
    public var language: String
    public var reason: Reason

    /// The document and its translations (same sequence) that carry a model letter: the original
    /// first, then by language. These are the languages a letter can be made in.
    public static func versions(of doc: Document, in chain: [Document]) -> [Document] {
        let family = chain.contains(where: { $0.id == doc.id }) ? chain : chain + [doc]
        return family.filter { $0.sequence == doc.sequence && ($0.takeAction?.letter?.isEmpty == false) }
            .sorted { ($0.translationOf == nil ? 0 : 1, $0.language) < ($1.translationOf == nil ? 0 : 1, $1.language) }
    }

    /// Of `versions` (`versions(of:in:)`), the one a letter to `target` is made from: the one in
    /// the language `asked` (nil when the model letter is not translated into it), or without
    /// one, in the language `choose` gives (else `doc`). The site's letter form and `vigil render
    /// --letter` both ask this, and name `versions`' languages when it answers nil.
    public static func version(of doc: Document, among versions: [Document], for target: Target, asked: String?) -> Document? {
        if let asked { return versions.first { $0.language == asked } }
        let chosen = choose(for: target, available: versions.map(\.language), documentLanguage: doc.language).language
        return versions.first { $0.language == chosen } ?? doc
    }

    /// The default: the official's first preferred language that has a model letter, else the
    /// document's language (or, when the document itself has no letter, the first that has one).
    /// `available` lists the languages in which the document's sequence has a model letter.
    public static func choose(for target: Target, available: [String], documentLanguage: String) -> LetterLanguage {
        let fallback = available.contains(documentLanguage) ? documentLanguage : (available.first ?? documentLanguage)
        guard let first = target.languages.first else { return LetterLanguage(language: fallback, reason: .noPreference) }
        guard let usable = target.languages.first(where: { available.contains($0) }) else {
            return LetterLanguage(language: fallback, reason: .noTranslation(preferred: first))
        }
        return LetterLanguage(language: usable, reason: usable == first ? .preferred : .alsoPreferred(first: first))
    }
}

/// Keeps left-to-right runs (Latin names, initials, addresses, towns, URLs) in their own
/// direction inside right-to-left text, so that "M. E." never prints as ".M. E".
public enum Bidi {
    /// U+2066 LEFT-TO-RIGHT ISOLATE and U+2069 POP DIRECTIONAL ISOLATE (Unicode 6.3; Pango, browsers).
    public static let lri: Character = "\u{2066}", pdi: Character = "\u{2069}"
    /// U+200E LEFT-TO-RIGHT MARK: understood by every word processor.
    public static let lrm: Character = "\u{200E}"

    static func isStrongRTL(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFF, 0x10800...0x10FFF, 0x1E800...0x1EFFF: return u.properties.isAlphabetic
        default: return false
        }
    }

    static func isRTLScript(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFF, 0x10800...0x10FFF, 0x1E800...0x1EFFF: return true
        default: return false
        }
    }

    /// A strong left-to-right character: a letter of a left-to-right script.
    static func isStrongLTR(_ u: Unicode.Scalar) -> Bool { u.properties.isAlphabetic && !isRTLScript(u) }

    /// The text cut into pieces, each marked left-to-right or not. A left-to-right piece runs from
    /// the first strong left-to-right character after a right-to-left letter to the last character
    /// before the next one, without the spaces and right-to-left punctuation at its ends: so its
    /// own punctuation ("M. E.", "[…]", "(UA 77/26)") stays with it.
    public static func segments(_ text: String) -> [(text: String, leftToRight: Bool)] {
        let scalars = Array(text.unicodeScalars)
        var out: [(String, Bool)] = []
        func emit(_ range: Range<Int>, _ ltr: Bool) {
            guard !range.isEmpty else { return }
            var s = String.UnicodeScalarView(); s.append(contentsOf: scalars[range])
            if let last = out.last, last.1 == ltr { out[out.count - 1].0 += String(s) } else { out.append((String(s), ltr)) }
        }
        var i = 0
        while i < scalars.count {
            // A stretch without right-to-left letters.
            var j = i
            while j < scalars.count && !isStrongRTL(scalars[j]) { j += 1 }
            if scalars[i..<j].contains(where: isStrongLTR) {
                var a = i, b = j
                func edge(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || isRTLScript(u) }
                while a < b && edge(scalars[a]) { a += 1 }
                while b > a && edge(scalars[b - 1]) { b -= 1 }
                emit(i..<a, false); emit(a..<b, true); emit(b..<j, false)
            } else {
                emit(i..<j, false)
            }
            // The right-to-left letters that follow.
            var k = j
            while k < scalars.count && isStrongRTL(scalars[k]) { k += 1 }
            emit(j..<k, false)
            i = k
        }
        return out
    }

    /// Wraps each left-to-right piece in `open` … `close` (isolates for Pango, marks for Word).
    public static func isolatingLeftToRight(_ text: String, open: Character = lri, close: Character = pdi) -> String {
        segments(text).map { $0.leftToRight ? "\(open)\($0.text)\(close)" : $0.text }.joined()
    }
}

extension PDFRenderer {
    public static func render(letter: AppealLetter, options: Options = .init()) throws -> Data {
        try render(items: letter.items(), title: letter.title, date: letter.date, language: letter.language, options: options,
                   rightToLeft: letter.isRightToLeft)
    }
}

extension DOCXRenderer {
    public static func render(letter: AppealLetter) throws -> Data {
        try render(items: letter.items(), title: letter.title, language: letter.language, date: letter.date, footer: nil,
                   rightToLeft: letter.isRightToLeft)
    }
}
