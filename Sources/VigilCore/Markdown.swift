import CCmark
import Foundation

/// The small Markdown that urgent actions are written in, parsed into blocks that the web
/// page, the PDF and the DOCX each render their own way (one content, three outputs).
///
/// Parsing is CommonMark, by cmark (the reference implementation: linear time, fuzzed), with our
/// house rules on top when its tree is mapped into these blocks:
/// - a single newline is a line break;
/// - links only for `http`, `https` and `mailto` (any other link is its text), and bare
///   `https://` addresses in text become links;
/// - nothing is ever HTML: raw HTML, inline or block, is literal text; an image is its alt text;
/// - headings are levels 1–4 (deeper ones count as 4); a code block is a paragraph of code
///   lines; a thematic break separates blocks and shows nothing;
/// - blocks do not nest here: a quote's or a list item's content is flattened into lines
///   (paragraphs apart by an empty line, nested list items one a line after `• ` or `1. `),
///   and formatting nested deeper than `maxInlineDepth` keeps its text without the formatting.
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

    /// Strong, emphasis and links nest at most this deep; deeper ones keep only their text (the
    /// renderers walk inlines recursively, and hostile input can nest them thousands deep).
    public static let maxInlineDepth = 32

    public static func parse(_ source: String) -> [Block] {
        var converter = Converter(flatten: false)
        walk(source, into: &converter)
        return converter.blocks
    }

    /// The inline content of a piece of Markdown, all of its blocks flattened into lines.
    public static func inlines(_ text: String) -> [Inline] {
        var converter = Converter(flatten: true)
        walk(text, into: &converter)
        return converter.sink
    }

    /// Only these link schemes are ever linked; others stay text.
    public static func isSafeURL(_ url: String) -> Bool {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") || lower.hasPrefix("mailto:") else { return false }
        return !url.unicodeScalars.contains { $0.value < 0x21 || $0 == "\"" || $0 == "<" || $0 == ">" || $0 == "`" }
    }

    // MARK: - cmark's tree to our blocks

    /// Parses with cmark (CMARK_OPT_DEFAULT: raw HTML stays in the tree as HTML nodes, which we
    /// turn into text; CMARK_OPT_UNSAFE is never used) and feeds the tree, in document order,
    /// to the converter. cmark's iterator is not recursive, so nesting depth costs no stack.
    static func walk(_ source: String, into converter: inout Converter) {
        guard !source.isEmpty else { return }
        var source = source
        // The length is passed, so NUL bytes reach cmark (which replaces them with U+FFFD).
        guard
            let document = source.withUTF8({ buffer -> OpaquePointer? in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    cmark_parse_document(chars.baseAddress, chars.count, CMARK_OPT_DEFAULT)
                }
            })
        else { return }
        defer { cmark_node_free(document) }
        guard let iterator = cmark_iter_new(document) else { return }
        defer { cmark_iter_free(iterator) }
        while true {
            let event = cmark_iter_next(iterator)
            if event == CMARK_EVENT_DONE || event == CMARK_EVENT_NONE { break }
            guard let node = cmark_iter_get_node(iterator) else { continue }
            if event == CMARK_EVENT_ENTER { converter.enter(node) } else { converter.exit(node) }
        }
    }

    static func literal(_ node: OpaquePointer) -> String {
        cmark_node_get_literal(node).map { String(cString: $0) } ?? ""
    }

    /// Lines of a code or HTML block (cmark keeps the final newline).
    static func lines(_ node: OpaquePointer) -> [Substring] {
        var text = Substring(literal(node))
        while text.last == "\n" { text.removeLast() }
        return text.isEmpty ? [] : text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }

    struct Converter {
        var blocks: [Block] = []

        /// Block containers (quotes, lists, items) open around the current node.
        var depth = 0
        enum Top { case none, quote, list(ordered: Bool) }
        /// The outermost open container: the block being built from everything inside it.
        var top = Top.none
        /// The flattened content of the open top-level quote or list item.
        var sink: [Inline] = []
        var items: [[Inline]] = []
        struct ListFrame { var ordered: Bool; var next: Int; var tight: Bool }
        var lists: [ListFrame] = []
        /// The marker of a nested list item, put before its first line.
        var pendingMarker: String?
        var inline: InlineBuilder?

        /// `flatten` (for `inlines(_:)`): everything goes into `sink`, as in a quote.
        init(flatten: Bool) {
            if flatten { top = .quote; depth = 1 }
        }

        mutating func enter(_ node: OpaquePointer) {
            let type = cmark_node_get_type(node)
            switch type {
            case CMARK_NODE_DOCUMENT: break
            case CMARK_NODE_BLOCK_QUOTE:
                if depth == 0 { top = .quote; sink = [] }
                depth += 1
            case CMARK_NODE_LIST:
                let ordered = cmark_node_get_list_type(node) == CMARK_ORDERED_LIST
                if depth == 0 { top = .list(ordered: ordered); items = [] }
                lists.append(
                    ListFrame(
                        ordered: ordered, next: Int(cmark_node_get_list_start(node)),
                        tight: cmark_node_get_list_tight(node) != 0))
                depth += 1
            case CMARK_NODE_ITEM:
                if isTopItem(atDepth: depth) {
                    sink = []
                } else if let list = lists.last {
                    pendingMarker = list.ordered ? "\(list.next). " : "• "
                    lists[lists.count - 1].next += 1
                }
                depth += 1
            case CMARK_NODE_PARAGRAPH:
                inline = InlineBuilder()
            case CMARK_NODE_HEADING:
                // Inside a quote or a list a heading is strong text: one level more.
                inline = InlineBuilder(maxDepth: depth == 0 ? Markdown.maxInlineDepth : Markdown.maxInlineDepth - 1)
            case CMARK_NODE_CODE_BLOCK:
                var content: [Inline] = []
                for line in Markdown.lines(node) {
                    if !content.isEmpty { content.append(.lineBreak) }
                    content.append(.code(String(line)))
                }
                leaf(content, heading: nil)
            case CMARK_NODE_HTML_BLOCK:
                var builder = InlineBuilder()
                for (n, line) in Markdown.lines(node).enumerated() {
                    if n > 0 { builder.lineBreak() }
                    builder.text(String(line))
                }
                leaf(builder.finish(), heading: nil)
            case CMARK_NODE_THEMATIC_BREAK: break
            case CMARK_NODE_TEXT, CMARK_NODE_HTML_INLINE: inline?.text(Markdown.literal(node))
            case CMARK_NODE_SOFTBREAK, CMARK_NODE_LINEBREAK: inline?.lineBreak()
            case CMARK_NODE_CODE: inline?.code(Markdown.literal(node))
            case CMARK_NODE_EMPH: inline?.enter(.emphasis)
            case CMARK_NODE_STRONG: inline?.enter(.strong)
            case CMARK_NODE_LINK:
                inline?.enter(.link(cmark_node_get_url(node).map { String(cString: $0) } ?? ""))
            case CMARK_NODE_IMAGE: inline?.enter(.image)
            default:
                // Custom nodes come only from code that builds trees, not from the parser; their
                // literal, if any, is text.
                inline?.text(Markdown.literal(node))
            }
        }

        mutating func exit(_ node: OpaquePointer) {
            switch cmark_node_get_type(node) {
            case CMARK_NODE_BLOCK_QUOTE:
                depth -= 1
                if depth == 0 {
                    if !sink.isEmpty { blocks.append(.quote(sink)) }
                    sink = []; top = .none
                }
            case CMARK_NODE_LIST:
                depth -= 1
                lists.removeLast()
                if depth == 0 {
                    if case .list(let ordered) = top, !items.isEmpty { blocks.append(.list(ordered: ordered, items: items)) }
                    items = []; top = .none
                }
            case CMARK_NODE_ITEM:
                depth -= 1
                if isTopItem(atDepth: depth) {
                    if !sink.isEmpty { items.append(sink) }  // an empty item shows nothing
                    sink = []
                }
                pendingMarker = nil
            case CMARK_NODE_PARAGRAPH:
                let content = inline?.finish() ?? []
                inline = nil
                leaf(content, heading: nil)
            case CMARK_NODE_HEADING:
                let content = inline?.finish() ?? []
                inline = nil
                leaf(content, heading: min(max(Int(cmark_node_get_heading_level(node)), 1), 4))
            case CMARK_NODE_EMPH, CMARK_NODE_STRONG, CMARK_NODE_LINK, CMARK_NODE_IMAGE:
                inline?.exit()
            default: break
            }
        }

        func isTopItem(atDepth depth: Int) -> Bool {
            if case .list = top, depth == 1 { return true }
            return false
        }

        /// A paragraph, heading, code or HTML block, finished.
        mutating func leaf(_ content: [Inline], heading level: Int?) {
            guard !content.isEmpty else { return }
            if depth == 0 {
                if let level { blocks.append(.heading(level: level, content)) } else { blocks.append(.paragraph(content)) }
                return
            }
            var piece = level == nil ? content : [.strong(content)]
            if let marker = pendingMarker {
                if !sink.isEmpty { sink.append(.lineBreak) }
                if case .text(let first) = piece[0] { piece[0] = .text(marker + first) } else { piece.insert(.text(marker), at: 0) }
                pendingMarker = nil
            } else if !sink.isEmpty {
                sink.append(.lineBreak)
                if !(lists.last?.tight ?? false) { sink.append(.lineBreak) }
            }
            sink.append(contentsOf: piece)
        }
    }

    /// Builds the inlines of one paragraph or heading from cmark's inline events. Adjacent text
    /// (raw HTML, an image's alt text, an unsafe link's text, the text around them) is gathered
    /// in place into one `.text`, in linear time.
    struct InlineBuilder {
        var maxDepth = Markdown.maxInlineDepth
        enum Kind { case root, strong, emphasis, link(String), image }
        struct Frame {
            var kind: Kind
            var items: [Inline] = []
            var text = ""
        }
        var frames = [Frame(kind: .root)]
        /// One entry per open emphasis, strong, link or image node: whether it opened a frame
        /// (false: its content goes to the enclosing frame, without the formatting).
        var opened: [Bool] = []
        var links = 0
        var images = 0

        mutating func text(_ s: String) { frames[frames.count - 1].text += s }

        mutating func lineBreak() {
            if images > 0 { text(" "); return }
            flush(); frames[frames.count - 1].items.append(.lineBreak)
        }

        mutating func code(_ s: String) {
            if images > 0 { text(s); return }
            flush(); frames[frames.count - 1].items.append(.code(s))
        }

        mutating func enter(_ kind: Kind) {
            let open: Bool
            switch kind {
            case .image: open = images == 0
            case .link(let url): open = images == 0 && links == 0 && frames.count <= maxDepth && Markdown.isSafeURL(url)
            default: open = images == 0 && frames.count <= maxDepth
            }
            opened.append(open)
            guard open else { return }
            switch kind {
            case .image: images += 1  // its alt text joins the text around it
            case .link: flush(); links += 1
            default: flush()
            }
            frames.append(Frame(kind: kind))
        }

        mutating func exit() {
            guard opened.removeLast() else { return }
            if case .image = frames[frames.count - 1].kind {
                // An image is its alt text: everything in it was gathered as text.
                let alt = frames.removeLast().text
                images -= 1
                text(alt)
                return
            }
            flush()
            let frame = frames.removeLast()
            switch frame.kind {
            case .strong where !frame.items.isEmpty: frames[frames.count - 1].items.append(.strong(frame.items))
            case .emphasis where !frame.items.isEmpty: frames[frames.count - 1].items.append(.emphasis(frame.items))
            case .link(let url):
                links -= 1
                frames[frames.count - 1].items.append(.link(text: frame.items.isEmpty ? [.text(url)] : frame.items, url: url))
            default: break
            }
        }

        /// The inlines, once cmark has closed every node it opened.
        mutating func finish() -> [Inline] {
            while frames.count > 1, !opened.isEmpty { exit() }
            flush()
            return frames[0].items
        }

        /// Moves the gathered text into the frame's items, bare https addresses as links (not
        /// inside a link or an image).
        mutating func flush() {
            let last = frames.count - 1
            guard !frames[last].text.isEmpty else { return }
            let text = frames[last].text
            frames[last].text = ""
            if links == 0, images == 0,
                let linked = Markdown.linkingBareURLs(text, atStart: frames[last].items.last.map { $0 == .lineBreak } ?? true)
            {
                frames[last].items.append(contentsOf: linked)
            } else {
                frames[last].items.append(.text(text))
            }
        }
    }

    /// `text` with each bare `https://` address (at the start, or after white space or `(`; up
    /// to the next white space or `)`, without trailing `.,;:!?`) made a link. One pass over the
    /// UTF-8 bytes: the scan never goes back over what it has read. nil when there is no address.
    static func linkingBareURLs(_ text: String, atStart: Bool) -> [Inline]? {
        guard text.utf8.count >= 9 else { return nil }
        var text = text
        return text.withUTF8 { linkingBareURLs(in: $0, atStart: atStart) }
    }

    static func linkingBareURLs(in bytes: UnsafeBufferPointer<UInt8>, atStart: Bool) -> [Inline]? {
        let scheme = Array("https://".utf8)
        let n = bytes.count
        var out: [Inline] = []
        var segment = 0  // start of the text not yet emitted
        var i = 0
        while i + scheme.count < n {
            guard bytes[i] == UInt8(ascii: "h"), bytes[i + 1] == UInt8(ascii: "t"),
                (0..<scheme.count).allSatisfy({ bytes[i + $0] == scheme[$0] }),
                i == 0 ? atStart : (bytes[i - 1] == UInt8(ascii: "(") || isSpace(endingAt: i, in: bytes))
            else { i += 1; continue }
            var end = i + scheme.count
            while end < n, bytes[end] != UInt8(ascii: ")"), !isSpace(at: end, in: bytes) { end += 1 }
            var urlEnd = end
            while urlEnd > i, ".,;:!?".utf8.contains(bytes[urlEnd - 1]) { urlEnd -= 1 }
            let url = String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<urlEnd]), as: UTF8.self)
            if urlEnd > i + scheme.count, Markdown.isSafeURL(url) {
                if segment < i { out.append(.text(String(decoding: UnsafeBufferPointer(rebasing: bytes[segment..<i]), as: UTF8.self))) }
                out.append(.link(text: [.text(url)], url: url))
                segment = urlEnd
            }
            i = end  // nothing before `end` can start another address
        }
        guard !out.isEmpty else { return nil }
        if segment < n { out.append(.text(String(decoding: UnsafeBufferPointer(rebasing: bytes[segment..<n]), as: UTF8.self))) }
        return out
    }

    /// Whether the scalar starting at byte `i` is white space (ASCII checked without decoding).
    static func isSpace(at i: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let b = bytes[i]
        if b < 0x80 { return b == 0x20 || (0x09...0x0D).contains(b) }
        var end = i + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return scalar(bytes, i..<end)?.properties.isWhitespace ?? false
    }

    /// Whether the scalar ending just before byte `i` is white space.
    static func isSpace(endingAt i: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = i - 1
        if bytes[start] < 0x80 { return isSpace(at: start, in: bytes) }
        while start > 0, i - start < 4, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return scalar(bytes, start..<i)?.properties.isWhitespace ?? false
    }

    static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Unicode.Scalar? {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self).unicodeScalars.first
    }
}
