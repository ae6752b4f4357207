import Foundation
import Testing
@testable import VigilCore

@Suite("Markdown (cmark with house rules)")
struct MarkdownTests {
    typealias I = Markdown.Inline

    func plain(_ blocks: [Markdown.Block]) -> String { blocks.map(\.plainText).joined(separator: "\n\n") }

    /// Every link anywhere in the inlines, and the deepest nesting of strong, emphasis and links.
    func links(_ inlines: [I]) -> [String] {
        inlines.flatMap { i -> [String] in
            switch i {
            case .link(let t, let url): return [url] + links(t)
            case .strong(let c), .emphasis(let c): return links(c)
            default: return []
            }
        }
    }
    func links(_ blocks: [Markdown.Block]) -> [String] {
        blocks.flatMap { b -> [String] in
            switch b {
            case .paragraph(let i), .heading(_, let i), .quote(let i): return links(i)
            case .list(_, let items): return items.flatMap(links)
            }
        }
    }
    func depth(_ inlines: [I]) -> Int {
        inlines.map { i -> Int in
            switch i {
            case .strong(let c), .emphasis(let c), .link(let c, _): return 1 + depth(c)
            default: return 0
            }
        }.max() ?? 0
    }
    func depth(_ blocks: [Markdown.Block]) -> Int {
        blocks.map { b -> Int in
            switch b {
            case .paragraph(let i), .heading(_, let i), .quote(let i): return depth(i)
            case .list(_, let items): return items.map(depth).max() ?? 0
            }
        }.max() ?? 0
    }

    // MARK: house rules

    @Test func blocksAndLineBreaks() {
        #expect(
            Markdown.parse("Para one\nline two\n\n- a\n- b") == [
                .paragraph([.text("Para one"), .lineBreak, .text("line two")]),
                .list(ordered: false, items: [[.text("a")], [.text("b")]]),
            ])
        #expect(
            Markdown.parse("# One\n## Two\n#### Four\n###### Six\n\nSetext\n---") == [
                .heading(level: 1, [.text("One")]), .heading(level: 2, [.text("Two")]), .heading(level: 4, [.text("Four")]),
                .heading(level: 4, [.text("Six")]), .heading(level: 2, [.text("Setext")]),
            ])
        #expect(
            Markdown.parse("1. first\n2) second") == [
                .list(ordered: true, items: [[.text("first")]]), .list(ordered: true, items: [[.text("second")]]),
            ])
        #expect(
            Markdown.parse("> one\n> two\n>\n> three") == [
                .quote([.text("one"), .lineBreak, .text("two"), .lineBreak, .lineBreak, .text("three")])
            ])
        #expect(Markdown.parse("a  \nb\\\nc") == [.paragraph([.text("a"), .lineBreak, .text("b"), .lineBreak, .text("c")])])
        #expect(Markdown.parse("\r\n\r\nx\r\ny\r") == [.paragraph([.text("x"), .lineBreak, .text("y")])])
        #expect(Markdown.parse("") == [] && Markdown.parse(" \n\n  \n") == [])
    }

    @Test func inlineFormatting() {
        #expect(
            Markdown.parse("**bold**, *em*, _em_, __strong__, `co*de`, ***both***, \\*not\\*") == [
                .paragraph([
                    .strong([.text("bold")]), .text(", "), .emphasis([.text("em")]), .text(", "), .emphasis([.text("em")]), .text(", "),
                    .strong([.text("strong")]), .text(", "), .code("co*de"), .text(", "), .emphasis([.strong([.text("both")])]),
                    .text(", *not*"),
                ])
            ])
        #expect(
            Markdown.parse("snake_case_name and 2*3*4") == [
                .paragraph([.text("snake_case_name and 2"), .emphasis([.text("3")]), .text("4")])
            ])
        #expect(Markdown.parse("Fish &amp; chips &copy;") == [.paragraph([.text("Fish & chips ©")])])
    }

    @Test func onlyHTTPAndMailtoLinksAreLinks() {
        #expect(
            Markdown.parse("[site](https://example.org/a?b=1) [mail **me**](mailto:a@example.org) <https://auto.example/x>") == [
                .paragraph([
                    .link(text: [.text("site")], url: "https://example.org/a?b=1"), .text(" "),
                    .link(text: [.text("mail "), .strong([.text("me")])], url: "mailto:a@example.org"), .text(" "),
                    .link(text: [.text("https://auto.example/x")], url: "https://auto.example/x"),
                ])
            ])
        #expect(Markdown.parse("<a@example.org>") == [.paragraph([.link(text: [.text("a@example.org")], url: "mailto:a@example.org")])])
        let hostile =
            "[a](javascript:alert(1)) [b](JavaScript:alert(1)) [c](data:text/html,x) [d](vbscript:x) [e](/relative) [f](ftp://x) <javascript:alert(2)>"
        let blocks = Markdown.parse(hostile)
        #expect(links(blocks) == [])
        #expect(plain(blocks) == "a b c d e f javascript:alert(2)")
        // A link's destination with a quote or an angle bracket in it is no link either.
        #expect(links(Markdown.parse("[x](<https://e.org/\">) [y](https://e.org/a\"b)")) == [])
        #expect(Markdown.parse("[](https://e.org/)") == [.paragraph([.link(text: [.text("https://e.org/")], url: "https://e.org/")])])
    }

    @Test func bareHTTPSAddressesBecomeLinks() {
        #expect(
            Markdown.parse("See https://example.org/a_b, and (https://x.org/y). Not http://plain.example nor xhttps://a.b.") == [
                .paragraph([
                    .text("See "), .link(text: [.text("https://example.org/a_b")], url: "https://example.org/a_b"), .text(", and ("),
                    .link(text: [.text("https://x.org/y")], url: "https://x.org/y"), .text("). Not http://plain.example nor xhttps://a.b."),
                ])
            ])
        #expect(
            Markdown.parse("https://start.example\nhttps://next.example?") == [
                .paragraph([
                    .link(text: [.text("https://start.example")], url: "https://start.example"), .lineBreak,
                    .link(text: [.text("https://next.example")], url: "https://next.example"), .text("?"),
                ])
            ])
        // Not inside a link's text, nor inside code.
        #expect(
            Markdown.parse("[https://shown.example](https://real.example) `https://code.example`") == [
                .paragraph([
                    .link(text: [.text("https://shown.example")], url: "https://real.example"), .text(" "), .code("https://code.example"),
                ])
            ])
        #expect(links(Markdown.parse("https:// alone, and https://a\"b")) == [])
    }

    @Test func nothingIsEverHTML() {
        let blocks = Markdown.parse(
            "<script>alert(1)</script>\n\nText <b onclick=x>bold</b> <img src=x onerror=alert(1)>\n\n<div>\n*a*\n</div>")
        #expect(
            blocks == [
                .paragraph([.text("<script>alert(1)</script>")]),
                .paragraph([.text("Text <b onclick=x>bold</b> <img src=x onerror=alert(1)>")]),
                .paragraph([.text("<div>"), .lineBreak, .text("*a*"), .lineBreak, .text("</div>")]),
            ])
        #expect(
            Markdown.parse("![alt *text*](https://img.example/x.png) and ![](javascript:x)!") == [.paragraph([.text("alt text and !")])])
    }

    @Test func whatOurBlocksCannotHoldIsMappedToThem() {
        // Code blocks are paragraphs of code lines; a thematic break shows nothing.
        #expect(
            Markdown.parse("```swift\nlet x = 1\n  indented\n```\n\n    four spaces\n\n***\n\nafter") == [
                .paragraph([.code("let x = 1"), .lineBreak, .code("  indented")]),
                .paragraph([.code("four spaces")]),
                .paragraph([.text("after")]),
            ])
        // Nested lists and blocks in items or quotes are lines of the enclosing item or quote.
        #expect(
            Markdown.parse("- a\n  - b\n    1. c\n- d\n\n1. x\n\n   second\n2. y") == [
                .list(ordered: false, items: [[.text("a"), .lineBreak, .text("• b"), .lineBreak, .text("1. c")], [.text("d")]]),
                .list(ordered: true, items: [[.text("x"), .lineBreak, .lineBreak, .text("second")], [.text("y")]]),
            ])
        #expect(
            Markdown.parse("> # Title\n> - li\n> > nested") == [
                .quote([.strong([.text("Title")]), .lineBreak, .text("• li"), .lineBreak, .lineBreak, .text("nested")])
            ])
        #expect(Markdown.parse("-\n- \n- a\n\n#\n\n>") == [.list(ordered: false, items: [[.text("a")]])])
        #expect(Markdown.inlines("# a\n\nb *c*") == [.strong([.text("a")]), .lineBreak, .lineBreak, .text("b "), .emphasis([.text("c")])])
    }

    // MARK: hostile input: finishes (cmark is linear), and the text is right

    static let megabyte = 1 << 20

    @Test func megabyteOfOpeningBrackets() {
        let s = String(repeating: "[", count: Self.megabyte)
        let blocks = Markdown.parse(s)
        #expect(blocks == [.paragraph([.text(s)])])
        let links = String(repeating: "[a](", count: Self.megabyte / 4)
        #expect(plain(Markdown.parse(links)) == links)
        let images = String(repeating: "![", count: Self.megabyte / 2)
        #expect(plain(Markdown.parse(images)) == images)
        let closing = String(repeating: "[a]", count: Self.megabyte / 3) + "(https://e.org/)"
        #expect(plain(Markdown.parse(closing)) == String(repeating: "[a]", count: Self.megabyte / 3 - 1) + "a")
    }

    @Test func megabyteOfBackticks() {
        // A line of backticks opens a fenced code block, empty to the end: nothing to show.
        #expect(Markdown.parse(String(repeating: "`", count: Self.megabyte)) == [])
        let unmatched = "x" + String(repeating: "`", count: Self.megabyte)
        #expect(Markdown.parse(unmatched) == [.paragraph([.text(unmatched)])])
        // Runs of every length up to 1,400: no run finds a closer of its length.
        let runs = (1...1400).map { String(repeating: "`", count: $0) }.joined(separator: "a")
        #expect(plain(Markdown.parse("x" + runs)) == "x" + runs)
        let spans = String(repeating: "`a", count: Self.megabyte / 2)
        #expect(plain(Markdown.parse(spans)) == String(repeating: "a", count: Self.megabyte / 2))
    }

    @Test func megabyteOfAsterisks() {
        // A line of asterisks is a thematic break.
        #expect(Markdown.parse(String(repeating: "*", count: Self.megabyte)) == [])
        let unmatched = "x" + String(repeating: "*", count: Self.megabyte)
        #expect(Markdown.parse(unmatched) == [.paragraph([.text(unmatched)])])
        let alternating = String(repeating: "*a", count: Self.megabyte / 2)
        let blocks = Markdown.parse(alternating)
        #expect(plain(blocks) == String(repeating: "a", count: Self.megabyte / 2))
        // Inside a word `_` neither opens nor closes.
        let underscores = String(repeating: "_a", count: Self.megabyte / 2)
        #expect(plain(Markdown.parse(underscores)) == underscores)
    }

    @Test func deeplyNestedFormattingKeepsItsTextButNotItsDepth() {
        let n = Self.megabyte / 4
        let s = String(repeating: "*", count: n) + "deep" + String(repeating: "*", count: n)
        let blocks = Markdown.parse(s)
        #expect(plain(blocks) == "deep")
        #expect(depth(blocks) <= Markdown.maxInlineDepth)
        // The innermost link wins (links hold no links); the outer brackets are text.
        let links = String(repeating: "[**", count: 20_000) + "x" + String(repeating: "**](https://e.org/)", count: 20_000)
        let linked = Markdown.parse(links)
        #expect(plain(linked) == String(repeating: "[", count: 19_999) + "x" + String(repeating: "](https://e.org/)", count: 19_999))
        #expect(self.links(linked).count == 20_000)  // one link, and each bare address after a `(`
        #expect(depth(linked) <= Markdown.maxInlineDepth)
    }

    @Test func deeplyNestedQuotesAndLists() {
        #expect(Markdown.parse(String(repeating: ">", count: Self.megabyte)) == [])
        #expect(Markdown.parse(String(repeating: "> ", count: Self.megabyte / 2) + "deep") == [.quote([.text("deep")])])
        #expect(
            Markdown.parse(String(repeating: "- ", count: Self.megabyte / 2) + "deep") == [
                .list(ordered: false, items: [[.text("• deep")]])
            ])
        #expect(
            Markdown.parse(String(repeating: "1. ", count: Self.megabyte / 3) + "deep") == [
                .list(ordered: true, items: [[.text("1. deep")]])
            ])
        // Each line one level deeper than the one before: 1,000 levels.
        let staircase = (0..<1000).map { String(repeating: " ", count: 2 * $0) + "- a\n" }.joined()
        #expect(
            Markdown.parse(staircase) == [
                .list(ordered: false, items: [[.text("a")] + Array(repeating: [I.lineBreak, .text("• a")], count: 999).flatMap { $0 }])
            ])
        let mixed = String(repeating: "> - 1. ", count: Self.megabyte / 7) + "x\n" + String(repeating: "lazy line\n", count: 10_000)
        #expect(plain(Markdown.parse(mixed)).hasSuffix("x\n" + Array(repeating: "lazy line", count: 10_000).joined(separator: "\n")))
    }

    @Test func nulBytesAndOtherControls() {
        #expect(Markdown.parse("a\u{0}b") == [.paragraph([.text("a\u{FFFD}b")])])
        let nuls = String(repeating: "\u{0}", count: Self.megabyte)
        #expect(plain(Markdown.parse(nuls)) == String(repeating: "\u{FFFD}", count: Self.megabyte))
        #expect(plain(Markdown.parse("x&#0;y&#xD800;z")) == "x\u{FFFD}y\u{FFFD}z")
        #expect(plain(Markdown.parse("tab\there\u{7}bell")) == "tab\there\u{7}bell")
    }

    @Test func manyBareAddresses() {
        let s = String(repeating: "https://e.org/x (https://e.org/y) ", count: 30_000)
        let blocks = Markdown.parse(s)
        #expect(links(blocks).count == 60_000)
        #expect(plain(blocks) == s.trimmingCharacters(in: .whitespaces))
        // One long word full of schemes after `(`: scanned once, not once per scheme.
        let word = "https://e.org/" + String(repeating: "(https://e.org/\"", count: 60_000)
        #expect(plain(Markdown.parse(word)) == word)
    }
}
