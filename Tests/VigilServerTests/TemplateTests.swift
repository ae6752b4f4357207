import Foundation
import Testing
@testable import VigilCore
@testable import VigilServer

@Suite("Templates and escaping")
struct TemplateTests {
    func render(_ source: String, _ context: TemplateValue, partials: [String: String] = [:]) throws -> String {
        try Template(name: "t", source: source).render(context, partials: { try Template(name: $0, source: partials[$0] ?? "") })
    }

    @Test func valuesAreEscapedInTextAndAttributes() throws {
        let hostile = "\"\u{301}><script>alert('x')</script>&"
        let out = try render(#"<a title="{{v}}">{{v}}</a>"#, ["v": .string(hostile)])
        #expect(!out.contains("<script>"))
        let rawQuoteMark = "\"\u{301}"
        #expect(!out.contains(rawQuoteMark))
        let escaped = "&quot;\u{301}&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        #expect(out.contains(escaped))
    }

    @Test func tripleBracesWriteOnlyTrustedHTML() throws {
        #expect(try render("{{{v}}}", ["v": .string("<b>")]) == "&lt;b&gt;")
        #expect(try render("{{{v}}}", ["v": .html(HTML.markdown("**b**"))]) == "<p><strong>b</strong></p>")
    }

    @Test func sectionsInvertedConditionalsAndPartials() throws {
        let ctx: TemplateValue = ["items": ["a", "b"], "none": .list([]), "obj": ["x": "1"], "flag": true]
        #expect(try render("{{#items}}[{{.}}]{{/items}}", ctx) == "[a][b]")
        #expect(try render("{{?items}}<ul>{{#items}}<li>{{.}}</li>{{/items}}</ul>{{/items}}", ctx) == "<ul><li>a</li><li>b</li></ul>")
        #expect(try render("{{^none}}empty{{/none}}{{^missing}}!{{/missing}}", ctx) == "empty!")
        #expect(try render("{{#obj}}{{x}}{{/obj}}{{obj.x}}", ctx) == "11")
        #expect(try render("{{> p}}", ctx, partials: ["p": "{{#flag}}yes{{/flag}}"]) == "yes")
        #expect(try render("{{! a comment }}ok", ctx) == "ok")
    }

    @Test func brokenTemplatesSaySo() {
        #expect(throws: (any Error).self) { try Template(name: "t", source: "{{#a}}open") }
        #expect(throws: (any Error).self) { try Template(name: "t", source: "{{/a}}") }
        #expect(throws: (any Error).self) { try Template(name: "t", source: "{{a") }
    }

    @Test func markdownIsRenderedAndSanitised() {
        let md = """
            # Heading
            Text with **bold**, *em* and [a link](https://example.org/?a=1&b="2").
            <script>alert(1)</script> <img src=x onerror=alert(1)>
            [bad](javascript:alert(1)) [data](data:text/html,x)

            - one
            - two

            1. first
            > quoted
            """
        let html = HTML.markdown(md).html
        #expect(html.contains("<h3>Heading</h3>"))
        #expect(html.contains("<strong>bold</strong>") && html.contains("<em>em</em>"))
        #expect(html.contains("<ul><li>one</li><li>two</li></ul>") && html.contains("<ol><li>first</li></ol>"))
        #expect(html.contains("<blockquote><p>quoted</p></blockquote>"))
        #expect(!html.contains("<script") && !html.contains("<img"))
        #expect(html.contains("&lt;script&gt;"))
        #expect(!html.contains("javascript:alert") || !html.contains("href=\"javascript"))
        #expect(!html.contains("href=\"javascript") && !html.contains("href=\"data"))
        #expect(html.contains("href=\"https://example.org/?a=1&amp;b=&quot;2&quot;\"") == false)  // a quote ends no URL here
    }

    @Test func markdownParsesTheSameForEveryOutput() {
        let blocks = Markdown.parse("Para one\nline two\n\n- a\n- b")
        #expect(blocks == [.paragraph([.text("Para one"), .lineBreak, .text("line two")]), .list(ordered: false, items: [[.text("a")], [.text("b")]])])
        #expect(blocks[0].plainText == "Para one\nline two")
    }
}
