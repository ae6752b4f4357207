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
    /// Escapes text for element content and quoted attribute values. Works on Unicode scalars,
    /// not Characters, so that a quote followed by a combining mark (`"\u{301}`, one Character)
    /// is still escaped — the bug that broke several Swift template engines.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(s.unicodeScalars.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
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
