import Foundation

/// The small Markdown that urgent actions are written in, parsed into blocks that the web
/// page, the PDF and the DOCX each render their own way (one content, three outputs).
///
/// Supported: paragraphs (a single newline is a line break), `#`–`####` headings, `-`/`*`/`1.`
/// lists, `>` quotes, `**strong**`, `*emphasis*`/`_emphasis_`, `` `code` ``, `[text](url)`
/// links (http, https and mailto only) and bare https URLs. Anything else, HTML included, is text.
public enum Markdown {
    public indirect enum Inline: Hashable, Sendable {
        case text(String)
        case strong([Inline])
        case emphasis([Inline])
        case code(String)
        case link(text: [Inline], url: String)
        case lineBreak

        /// The inline's text without markup.
        public var plainText: String {
            switch self {
            case .text(let s), .code(let s): return s
            case .strong(let i), .emphasis(let i): return i.map(\.plainText).joined()
            case .link(let t, _): return t.map(\.plainText).joined()
            case .lineBreak: return "\n"
            }
        }
    }

    public enum Block: Hashable, Sendable {
        case paragraph([Inline])
        case heading(level: Int, [Inline])
        case list(ordered: Bool, items: [[Inline]])
        case quote([Inline])

        public var plainText: String {
            switch self {
            case .paragraph(let i), .heading(_, let i), .quote(let i): return i.map(\.plainText).joined()
            case .list(_, let items): return items.map { $0.map(\.plainText).joined() }.joined(separator: "\n")
            }
        }
    }

    public static func parse(_ source: String) -> [Block] {
        let lines = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [Block] = []
        var paragraph: [String] = []
        var listItems: [String] = []
        var listOrdered = false
        var quote: [String] = []

        func flushParagraph() {
            if !paragraph.isEmpty { blocks.append(.paragraph(inlines(paragraph.joined(separator: "\n")))); paragraph = [] }
        }
        func flushList() {
            if !listItems.isEmpty { blocks.append(.list(ordered: listOrdered, items: listItems.map { inlines($0) })); listItems = [] }
        }
        func flushQuote() {
            if !quote.isEmpty { blocks.append(.quote(inlines(quote.joined(separator: "\n")))); quote = [] }
        }
        func flushAll() { flushParagraph(); flushList(); flushQuote() }

        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { flushAll(); continue }
            if let (level, text) = heading(line) {
                flushAll()
                blocks.append(.heading(level: level, inlines(text)))
                continue
            }
            if let (ordered, text) = listItem(line) {
                flushParagraph(); flushQuote()
                if !listItems.isEmpty && ordered != listOrdered { flushList() }
                listOrdered = ordered
                listItems.append(text)
                continue
            }
            if line.hasPrefix(">") {
                flushParagraph(); flushList()
                quote.append(String(line.dropFirst()).trimmingCharacters(in: .whitespaces))
                continue
            }
            if !listItems.isEmpty && raw.hasPrefix("  ") {
                listItems[listItems.count - 1] += " " + line
                continue
            }
            flushList(); flushQuote()
            paragraph.append(line)
        }
        flushAll()
        return blocks
    }

    static func heading(_ line: String) -> (Int, String)? {
        let hashes = line.prefix(while: { $0 == "#" }).count
        guard (1...4).contains(hashes), line.dropFirst(hashes).first == " " else { return nil }
        return (hashes, String(line.dropFirst(hashes + 1)).trimmingCharacters(in: .whitespaces))
    }

    static func listItem(_ line: String) -> (Bool, String)? {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("• ") {
            return (false, String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces))
        }
        let digits = line.prefix(while: { $0.isASCII && $0.isNumber })
        if !digits.isEmpty, digits.count <= 3 {
            let rest = line.dropFirst(digits.count)
            if rest.hasPrefix(". ") || rest.hasPrefix(") ") {
                return (true, String(rest.dropFirst(2)).trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// Only these link schemes are ever linked; others stay text.
    public static func isSafeURL(_ url: String) -> Bool {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") || lower.hasPrefix("mailto:") else { return false }
        return !url.unicodeScalars.contains { $0.value < 0x21 || $0 == "\"" || $0 == "<" || $0 == ">" || $0 == "`" }
    }

    public static func inlines(_ text: String) -> [Inline] {
        var parser = InlineParser(Array(text))
        return parser.parse(until: nil)
    }

    struct InlineParser {
        let chars: [Character]
        var i = 0
        init(_ chars: [Character]) { self.chars = chars }

        mutating func parse(until terminator: String?) -> [Inline] {
            var out: [Inline] = []
            var buffer = ""
            func flush() { if !buffer.isEmpty { out.append(.text(buffer)); buffer = "" } }
            while i < chars.count {
                if let terminator, matches(terminator) { flush(); i += terminator.count; return out }
                let c = chars[i]
                if c == "\n" { flush(); out.append(.lineBreak); i += 1; continue }
                if c == "\\", i + 1 < chars.count, "*_`[]()\\#>-".contains(chars[i + 1]) {
                    buffer.append(chars[i + 1]); i += 2; continue
                }
                if matches("**"), let close = find("**", from: i + 2), close > i + 2 {
                    flush(); i += 2
                    out.append(.strong(parseSpan(to: close)))
                    i = close + 2
                    continue
                }
                if (c == "*" || c == "_"), i + 1 < chars.count, !chars[i + 1].isWhitespace,
                   c == "*" || (i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isNumber)),
                   let close = find(String(c), from: i + 1), close > i + 1, !chars[close - 1].isWhitespace {
                    flush(); i += 1
                    out.append(.emphasis(parseSpan(to: close)))
                    i = close + 1
                    continue
                }
                if c == "`", let close = find("`", from: i + 1) {
                    flush()
                    out.append(.code(String(chars[(i + 1)..<close])))
                    i = close + 1
                    continue
                }
                if c == "[", let closeText = find("]", from: i + 1), closeText + 1 < chars.count, chars[closeText + 1] == "(",
                   let closeURL = find(")", from: closeText + 2) {
                    let url = String(chars[(closeText + 2)..<closeURL]).trimmingCharacters(in: .whitespaces)
                    if Markdown.isSafeURL(url) {
                        flush(); i += 1
                        let text = parseSpan(to: closeText)
                        out.append(.link(text: text, url: url))
                        i = closeURL + 1
                        continue
                    }
                }
                if matches("https://") && (i == 0 || chars[i - 1].isWhitespace || chars[i - 1] == "(") {
                    var j = i
                    while j < chars.count, !chars[j].isWhitespace, chars[j] != ")" { j += 1 }
                    var url = String(chars[i..<j])
                    while let last = url.last, ".,;:!?".contains(last) { url.removeLast(); j -= 1 }
                    if Markdown.isSafeURL(url) {
                        flush()
                        out.append(.link(text: [.text(url)], url: url))
                        i = j
                        continue
                    }
                }
                buffer.append(c)
                i += 1
            }
            flush()
            return out
        }

        mutating func parseSpan(to end: Int) -> [Inline] {
            var sub = InlineParser(Array(chars[i..<end]))
            return sub.parse(until: nil)
        }

        func matches(_ s: String) -> Bool {
            let a = Array(s)
            guard i + a.count <= chars.count else { return false }
            return Array(chars[i..<(i + a.count)]) == a
        }

        func find(_ s: String, from start: Int) -> Int? {
            let a = Array(s)
            var j = start
            while j + a.count <= chars.count {
                if chars[j] == "\n" && a != ["\n"] && s != "]" && s != ")" { }
                if Array(chars[j..<(j + a.count)]) == a { return j }
                j += 1
            }
            return nil
        }
    }
}
