import Foundation
import Testing
@testable import VigilCore
@testable import VigilServer

@Suite("Page models and template checks")
struct TemplateSchemaTests {
    struct Card: Encodable, Equatable {
        var title: String
        var href: String
        var deadlineLabel: String?
        var snippet: TrustedHTML?
    }

    enum Outcome: String, Encodable { case released }

    struct Page: TemplateModel {
        struct Frame: Encodable { var title: String; var canonicalURL: String }
        var page: Frame
        var heading: String
        var body: TrustedHTML
        var cards: [Card]
        var countries: [String]
        var total: Int
        var isOpen: Bool
        var outcome: Outcome?
        var note: String?

        static var example: Page {
            Page(page: Frame(title: "Urgent Actions", canonicalURL: "https://example.org/"), heading: "Latest",
                 body: HTML.markdown("**Write** now"),
                 cards: [Card(title: "UA 1/25", href: "/urgent-actions/1-25", deadlineLabel: "Deadline: 1 May 2025",
                              snippet: HTML.text("found"))],
                 countries: ["Iran"], total: 3, isOpen: true, outcome: .released, note: "A note")
        }
    }

    func schema() throws -> TemplateSchema { try TemplateSchema.page(Page.self) }

    func problems(_ source: String, partials: [String: String] = [:]) throws -> [TemplateProblem] {
        try Template(name: "page", source: source).problems(against: schema(), partials: {
            try Template(name: $0, source: partials[$0] ?? "")
        })
    }

    // MARK: Encoding

    @Test func encodingGivesTheTemplateValues() throws {
        var model = Page.example
        model.note = nil
        model.cards.append(Card(title: "UA 2/25", href: "/urgent-actions/2-25", deadlineLabel: nil, snippet: nil))
        let value = try TemplateValue(encoding: model)
        let expected: TemplateValue = [
            "page": ["title": "Urgent Actions", "canonical_url": "https://example.org/"],
            "heading": "Latest",
            "body": .html(HTML.markdown("**Write** now")),
            "cards": [
                ["title": "UA 1/25", "href": "/urgent-actions/1-25", "deadline_label": "Deadline: 1 May 2025", "snippet": .html(HTML.text("found"))],
                ["title": "UA 2/25", "href": "/urgent-actions/2-25", "deadline_label": false, "snippet": false],
            ],
            "countries": ["Iran"], "total": "3", "is_open": true, "outcome": "released", "note": false,
        ]
        #expect(value == expected)
    }

    /// The byte-by-byte conversion of ASCII keys and the addresses' percent-encoding without
    /// Foundation give what the general ones give, for keys and values of every shape.
    @Test func fastConversionsEqualTheGeneralOnes() {
        var rng = SystemRandomNumberGenerator()
        let keyBytes = Array("aAbBzZyY019_xXURLId".utf8)
        for _ in 0..<5_000 {
            let key = String(decoding: (0..<Int.random(in: 1...12, using: &rng)).map { _ in keyBytes.randomElement(using: &rng)! }, as: UTF8.self)
            #expect(TemplateValue.templateKey(key) == TemplateValue.templateKeyOfCharacters(key), "\(key)")
        }
        for key in ["ÉtéKey", "caseTitleÀ", "ßKey"] {
            #expect(TemplateValue.templateKey(key) == TemplateValue.templateKeyOfCharacters(key))
        }
        let valueScalars = Array("aZ09-._~ /?#%&+=é李محÀ\u{1F600}".unicodeScalars)
        for _ in 0..<5_000 {
            var value = ""
            for _ in 0..<Int.random(in: 0...10, using: &rng) { value.unicodeScalars.append(valueScalars.randomElement(using: &rng)!) }
            #expect(Endpoint.percentEncode(value) == Endpoint.percentEncodeByFoundation(value), "\(value)")
        }
        #expect(Endpoint.percentEncode("126-19") == "126-19" && Endpoint.percentEncode("a b/c") == "a%20b%2Fc")
    }

    @Test func keysAreSnakeCaseButDictionaryKeysAreKept() throws {
        #expect(TemplateValue.templateKey("caseTitle") == "case_title")
        #expect(TemplateValue.templateKey("canonicalURL") == "canonical_url")
        #expect(TemplateValue.templateKey("pdfURLForPrint") == "pdf_url_for_print")
        #expect(TemplateValue.templateKey("h2Title") == "h2_title")
        #expect(TemplateValue.templateKey("already_snake") == "already_snake")
        let value = try TemplateValue(encoding: ["pt-BR": "x", "someKey": "y"])
        #expect(value == ["pt-BR": "x", "someKey": "y"])
    }

    /// A wrapper may add values next to its content's (both keyed containers write one object).
    @Test func aWrapperCanAddFieldsToItsContent() throws {
        struct Framed<Content: Encodable>: Encodable {
            var content: Content
            var csrf: String
            enum Keys: String, CodingKey { case csrf }
            func encode(to encoder: any Encoder) throws {
                try content.encode(to: encoder)
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(csrf, forKey: .csrf)
            }
        }
        let value = try TemplateValue(encoding: Framed(content: Card(title: "a", href: "b", deadlineLabel: nil, snippet: nil), csrf: "tok"))
        #expect(value == ["title": "a", "href": "b", "deadline_label": false, "snippet": false, "csrf": "tok"])
    }

    @Test func anExampleMustBeFilledIn() throws {
        struct Sparse: TemplateModel {
            var note: String?
            var items: [String]
            static var example: Sparse { Sparse(note: nil, items: ["x"]) }
        }
        struct Empty: TemplateModel {
            var items: [String]
            static var example: Empty { Empty(items: []) }
        }
        #expect(throws: TemplateSchema.ExampleProblem.self) { try TemplateSchema(model: Sparse.self) }
        #expect(throws: TemplateSchema.ExampleProblem.self) { try TemplateSchema(model: Empty.self) }
    }

    @Test func theSchemaIsLearnedFromTheExample() throws {
        let s = try TemplateSchema(model: Page.self)
        guard case .object(let fields) = s else { Issue.record("not an object"); return }
        #expect(fields["body"] == .html(example: "<p><strong>Write</strong> now</p>"))
        #expect(fields["is_open"] == .flag(example: true))
        #expect(fields["countries"] == .list(.text(example: "Iran")))
        guard case .list(.object(let card)) = fields["cards"] else { Issue.record("cards is not a list of objects"); return }
        #expect(card["deadline_label"] == .text(example: "Deadline: 1 May 2025"))
        #expect(card["snippet"] == .html(example: "found"))
    }

    // MARK: Checking

    @Test func aGoodTemplatePasses() throws {
        let source = """
            <title>{{page.title}} · {{t.site_name}}</title>
            <h1>{{heading}}</h1>{{{body}}}
            {{?cards}}<ul>{{#cards}}<li><a href="{{href}}">{{title}}</a>{{#deadline_label}}{{deadline_label}}{{/deadline_label}}
            {{#snippet}}{{{snippet}}}{{/snippet}} {{heading}} {{page.canonical_url}}</li>{{/cards}}</ul>{{/cards}}
            {{#countries}}{{.}}{{/countries}}{{^note}}no note{{/note}}{{#is_open}}open{{/is_open}} {{total}} {{outcome}}
            {{#page}}{{title}}{{/page}}
            """
        let found = try problems(source)
        #expect(found == [])
    }

    @Test func anUnknownNameIsReported() throws {
        let found = try problems("<h1>{{heading}}</h1>\n<p>{{headline}}</p>\n{{#crads}}x{{/crads}}{{?page.tilte}}y{{/page.tilte}}")
        #expect(found.map(\.name) == ["headline", "crads", "page.tilte"])
        #expect(found.allSatisfy { $0.kind == .unknownName && $0.template == "page" && $0.partial == nil })
        #expect(found.map(\.line) == [2, 3, 3])
        let message = found[0].description
        #expect(message.contains("page.html:2") && message.contains("headline"))
    }

    @Test func aNestedListFieldResolves() throws {
        let found = try problems("{{#cards}}{{title}} {{deadline_label}}{{/cards}}")
        #expect(found == [])
        // …but only inside the list
        let outside = try problems("{{title}}{{cards.title}}")
        #expect(outside.map(\.name) == ["title", "cards.title"])
    }

    @Test func anOuterNameResolvesInsideASection() throws {
        let found = try problems("{{#cards}}{{heading}}{{page.title}}{{t.read_more}}{{/cards}}{{#page}}{{heading}}{{/page}}")
        #expect(found == [])
    }

    @Test func aDottedNameResolves() throws {
        #expect(try problems("{{page.title}}{{page.canonical_url}}") == [])
        let found = try problems("{{page.description}}")
        #expect(found.map(\.name) == ["page.description"])
    }

    /// A dotted name descends from the innermost object that has its first part, as render does:
    /// `title` inside `{{#cards}}` is the card's, so `title.x` does not fall back outward.
    @Test func aDottedNameDoesNotFallBackOnceItsFirstPartIsFound() throws {
        let found = try problems("{{#cards}}{{page.title}}{{title.x}}{{/cards}}")
        #expect(found.map(\.name) == ["title.x"])
    }

    @Test func rawOnTextIsRefused() throws {
        let found = try problems("{{{heading}}}\n{{#cards}}{{{title}}}{{/cards}}{{{t.site_name}}}")
        #expect(found.map(\.name) == ["heading", "title", "t.site_name"])
        #expect(found.allSatisfy { $0.kind == .rawNotHTML })
        #expect(found[0].description.contains("{{heading}}"))
    }

    @Test func rawOnHTMLIsAccepted() throws {
        #expect(try problems("{{{body}}}{{#cards}}{{#snippet}}{{{snippet}}}{{/snippet}}{{/cards}}") == [])
    }

    @Test func aListOrObjectPrintsNothingAndIsReported() throws {
        let found = try problems("{{cards}}{{page}}")
        #expect(found.map(\.kind) == [.notPrintable, .notPrintable])
    }

    @Test func aPartialIsCheckedWhereItIsIncluded() throws {
        let partials = ["partials/card": "<a href=\"{{href}}\">{{title}}</a>\n{{summary}}"]
        let found = try problems("{{#cards}}{{> partials/card}}{{/cards}}", partials: partials)
        #expect(found.count == 1)
        let p = try #require(found.first)
        #expect(p.name == "summary" && p.partial == "partials/card" && p.template == "page" && p.line == 2)
        #expect(p.description.contains("partials/card.html:2"))
        // the same partial outside the list knows no href
        let outside = try problems("{{> partials/card}}", partials: partials)
        #expect(outside.map(\.name) == ["href", "title", "summary"])
    }

    @Test func aPartialThatIncludesItselfIsCheckedOnce() throws {
        let found = try problems("{{> p}}", partials: ["p": "{{#cards}}{{> p}}{{/cards}}{{nope}}"])
        #expect(found.map(\.name) == ["nope"])
    }

    @Test func stringsCanCloseT() throws {
        let strings = Strings(language: "en", table: ["site_name": "Vigil"])
        let schema = try TemplateSchema.page(Page.self, strings: strings)
        let found = try Template(name: "p", source: "{{t.site_name}}{{t.missing}}").problems(against: schema, partials: { _ in
            throw Template.SyntaxError(description: "no partials")
        })
        #expect(found.map(\.name) == ["t.missing"])
    }

    // MARK: Rendering and the renderer

    @Test func renderingAModelEqualsRenderingTheHandBuiltValue() throws {
        let source = """
            {{page.title}}|{{{body}}}|{{#cards}}[{{title}} {{deadline_label}}{{#snippet}}{{{snippet}}}{{/snippet}}]{{/cards}}|\
            {{^note}}none{{/note}}|{{total}}|{{#is_open}}open{{/is_open}}|{{outcome}}|{{t.site_name}}
            """
        let template = try Template(name: "p", source: source)
        var model = Page.example
        model.note = nil
        let strings = Strings(language: "en", table: ["site_name": "Vigil"])
        let fromModel = try template.render(TemplateValue.page(model, strings: strings), partials: { _ in throw Template.SyntaxError(description: "none") })
        let byHand: TemplateValue = [
            "page": ["title": "Urgent Actions", "canonical_url": "https://example.org/"], "heading": "Latest",
            "body": .html(HTML.markdown("**Write** now")),
            "cards": [["title": "UA 1/25", "href": "/urgent-actions/1-25", "deadline_label": "Deadline: 1 May 2025", "snippet": .html(HTML.text("found"))]],
            "countries": ["Iran"], "total": "3", "is_open": true, "outcome": "released", "note": false,
            "t": ["site_name": "Vigil"],
        ]
        let fromValue = try template.render(byHand, partials: { _ in throw Template.SyntaxError(description: "none") })
        #expect(fromModel == fromValue)
        #expect(fromModel == "Urgent Actions|<p><strong>Write</strong> now</p>|[UA 1/25 Deadline: 1 May 2025found]|none|3|open|released|Vigil")
    }

    @Test func theRendererChecksAndRendersFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-schema-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/partials", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "<h1>{{heading}}</h1>{{#cards}}{{> partials/c}}{{/cards}}".write(toFile: dir + "/good.html", atomically: true, encoding: .utf8)
        try "{{title}}".write(toFile: dir + "/partials/c.html", atomically: true, encoding: .utf8)
        try "{{> partials/c}}".write(toFile: dir + "/bad.html", atomically: true, encoding: .utf8)
        let views = ViewRenderer(directories: [dir])
        try views.check("good", model: Page.self)
        #expect(throws: TemplateProblems.self) { try views.check("bad", model: Page.self) }
        let html = try views.render("good", Page.example, strings: Strings(language: "en", table: [:]))
        #expect(html == "<h1>Latest</h1>UA 1/25")
    }

    @Test func markdownListsEveryValue() throws {
        let md = try schema().markdown(template: "page")
        #expect(md.hasPrefix("## `page`\n\n| Value | Kind | Example |\n| --- | --- | --- |\n"))
        #expect(md.contains("| `cards` | list |  |\n"))
        #expect(md.contains("| `cards[].deadline_label` | text | `Deadline: 1 May 2025` |\n"))
        #expect(md.contains("| `body` | html | `<p><strong>Write</strong> now</p>` |\n"))
        #expect(md.contains("| `countries` | list of text |  |\n| `countries[]` | text | `Iran` |\n"))
        #expect(md.contains("| `is_open` | flag | `true` |\n"))
        #expect(md.contains("| `page.canonical_url` | text | `https://example.org/` |\n"))
        #expect(md.contains("| `t.*` | any key: text |  |\n"))
        let again = try schema().markdown(template: "page")
        #expect(md == again)
        #expect(TemplateSchema.code("a|`b`") == "`` a\\|`b` ``")
    }
}
