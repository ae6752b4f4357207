import Foundation
import VigilCore

/// HTML that is safe to put in a page as it is: made only by `HTML.escape`, by the Markdown
/// renderer (which escapes every piece of text and allows only http(s)/mailto links) or by
/// our own templates. Nothing else may produce it.
public struct TrustedHTML: Hashable, Sendable {
    public let html: String
    fileprivate init(unchecked html: String) { self.html = html }
    public static let empty = TrustedHTML(unchecked: "")
}

public enum HTML {
    /// Escapes text for element content and quoted attribute values. Works on UTF-8 bytes (every
    /// character it changes is ASCII), not Characters, so that a quote followed by a combining
    /// mark (`"\u{301}`, one Character) is still escaped — the bug that broke several Swift
    /// template engines.
    public static func escape(_ s: String) -> String {
        // Every character it changes is ASCII, so the UTF-8 bytes are read, not the scalars: text
        // with nothing to escape (most of it) is given back as it is, the rest written byte by byte.
        guard s.utf8.contains(where: needsEscape) else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 32)
        for byte in s.utf8 { appendEscaped(byte, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func needsEscape(_ byte: UInt8) -> Bool {
        byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0x27 || byte == 0
    }

    /// One byte of UTF-8 text, escaped: `&<>"'` as entities, U+0000 as U+FFFD.
    @inline(__always) static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case 0x26: out.append(contentsOf: "&amp;".utf8)
        case 0x3C: out.append(contentsOf: "&lt;".utf8)
        case 0x3E: out.append(contentsOf: "&gt;".utf8)
        case 0x22: out.append(contentsOf: "&quot;".utf8)
        case 0x27: out.append(contentsOf: "&#39;".utf8)
        case 0: out.append(contentsOf: [0xEF, 0xBF, 0xBD])
        default: out.append(byte)
        }
    }

    public static func text(_ s: String) -> TrustedHTML { TrustedHTML(unchecked: escape(s)) }

    /// Internal: for markup built here from escaped parts.
    static func trusted(_ html: String) -> TrustedHTML { TrustedHTML(unchecked: html) }

    /// Renders Markdown (see `Markdown`) as HTML. `lang`, when given, is not applied here:
    /// the caller wraps the result in an element carrying the language.
    public static func markdown(_ source: String?) -> TrustedHTML {
        guard let source, !source.isEmpty else { return .empty }
        return TrustedHTML(unchecked: Markdown.parse(source).map(block).joined(separator: "\n"))
    }

    static func block(_ b: Markdown.Block) -> String {
        switch b {
        case .paragraph(let i): return "<p>\(inlines(i))</p>"
        case .heading(let level, let i):
            let l = min(level + 2, 6)  // page has h1 and section h2s
            return "<h\(l)>\(inlines(i))</h\(l)>"
        case .list(let ordered, let items):
            let tag = ordered ? "ol" : "ul"
            return "<\(tag)>" + items.map { "<li>\(inlines($0))</li>" }.joined() + "</\(tag)>"
        case .quote(let i): return "<blockquote><p>\(inlines(i))</p></blockquote>"
        }
    }

    static func inlines(_ items: [Markdown.Inline]) -> String {
        items.map { item -> String in
            switch item {
            case .text(let s): return escape(s)
            case .strong(let i): return "<strong>\(inlines(i))</strong>"
            case .emphasis(let i): return "<em>\(inlines(i))</em>"
            case .code(let s): return "<code>\(escape(s))</code>"
            case .lineBreak: return "<br>"
            case .link(let text, let url):
                guard Markdown.isSafeURL(url) else { return inlines(text) }
                return "<a href=\"\(escape(url))\" rel=\"nofollow noopener\">\(inlines(text))</a>"
            }
        }.joined()
    }
}
