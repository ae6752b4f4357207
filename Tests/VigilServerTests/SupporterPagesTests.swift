import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("Supporter page models")
struct SupporterPagesTests {
    /// The templates every supporter page is rendered from.
    static let templates = ["signup", "login", "account", "account-message", "password-reset", "password-new", "confirm", "privacy",
                            "account-delete", "follow", "follow-data", "unsubscribe", "report", "editor", "editor-token", "dev-outbox", "error",
                            "newsroom", "second-factor", "login-code", "newsroom-accounts", "newsroom-audit",
                            "newsroom-urgent-actions", "newsroom-urgent-action", "newsroom-drafts", "newsroom-draft", "newsroom-compare", "draft-preview"]

    @Test func everySupporterPageIsListedOnce() {
        let listed = SupporterPages.all.map(\.template)
        #expect(listed.sorted() == Self.templates.sorted())
        #expect(Set(listed).count == listed.count)
    }

    @Test func everyTemplateNamesOnlyValuesOfItsModel() async throws {
        try await withApp { app in
            let services = app.vigilServices
            for (template, model) in SupporterPages.all {
                do {
                    try services.views.check(template, model: model, strings: services.strings)
                } catch {
                    Issue.record("\(template): \(error)")
                }
            }
        }
    }

    /// Renders a model's example as the page would be.
    static func renderExample<M: TemplateModel>(_ model: M.Type, _ template: String, _ services: VigilServices) throws -> (html: String, value: TemplateValue) {
        (try services.views.render(template, M.example, strings: services.strings), try TemplateValue(encoding: M.example))
    }

    /// The wrapper's values (`Page`): the frame, the links, who is signed in, the form token.
    static let wrapper: Set<String> = ["page", "links", "csrf", "signed_in", "editor_nav"]

    /// Every name a template (and the partials it includes, but the layout's) uses, each part of a dotted name.
    static func names(in template: Template, _ views: VigilServer.ViewRenderer, seen: Set<String> = []) throws -> Set<String> {
        var out: Set<String> = []
        func walk(_ nodes: [Template.Node]) throws {
            for node in nodes {
                switch node {
                case .text: continue
                case .value(let path, _, _): out.formUnion(path)
                case .section(let path, _, let children, _): out.formUnion(path); try walk(children)
                case .conditional(let path, let children, _): out.formUnion(path); try walk(children)
                case .partial(let name, _):
                    guard !seen.contains(name), !name.hasPrefix("layout/") else { continue }
                    out.formUnion(try names(in: views.template(name), views, seen: seen.union([name])))
                }
            }
        }
        try walk(template.nodes)
        return out
    }

    /// The dotted paths of a schema's fields (`sessions[].device`), skipping the given top-level names.
    static func fields(_ schema: TemplateSchema, _ prefix: String = "", skipping: Set<String> = []) -> [(path: String, name: String)] {
        switch schema {
        case .object(let fields):
            return fields.filter { !skipping.contains($0.key) }.sorted { $0.key < $1.key }.flatMap { key, value in
                [(prefix + key, key)] + Self.fields(value, prefix + key + ".")
            }
        case .list(let element): return Self.fields(element, String(prefix.dropLast()) + "[].")
        case .text, .html, .flag, .open: return []
        }
    }

    @Test func everyExampleRendersAndItsTemplateUsesEveryValue() async throws {
        try await withApp { app in
            let services = app.vigilServices
            for (template, model) in SupporterPages.all {
                let rendered = try Self.renderExample(model, template, services)
                #expect(rendered.html.hasPrefix("<!DOCTYPE html>") && rendered.html.contains("<h1>"), "\(template)")
                #expect(rendered.html.contains("<title>\(HTML.escape(PageFrame.example.title)) · "), "\(template): the frame")
                // What the content holds at the top is shown (the example sets every optional, so every section is open).
                guard case .object(let values) = rendered.value else { Issue.record("\(template) is not an object"); continue }
                for (key, value) in values where !Self.wrapper.contains(key) {
                    if case .string(let text) = value {
                        #expect(rendered.html.contains(HTML.escape(text)), "\(template) does not show \(key)")
                    }
                }
                // The model holds nothing its template leaves out.
                let used = try Self.names(in: services.views.template(template), services.views)
                for field in Self.fields(try TemplateSchema(model: model), skipping: Self.wrapper) {
                    #expect(used.contains(field.name), "\(template) does not use \(field.path)")
                }
            }
        }
    }

    @Test func aTemplateThatNamesAValueItsModelLacksIsRefused() async throws {
        try await withApp { app in
            let services = app.vigilServices
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-views-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            // An operator's override of the log-in page that misspells a value, inside a section.
            let builtIn = try #require(services.views.directories.first { FileManager.default.fileExists(atPath: $0 + "/login.html") })
            let login = try String(contentsOfFile: builtIn + "/login.html", encoding: .utf8)
                .replacingOccurrences(of: "value=\"{{email}}\"", with: "value=\"{{#errors}}{{emial}}{{/errors}}\"")
            let line = try #require(login.components(separatedBy: "\n").firstIndex { $0.contains("emial") }) + 1
            try login.write(toFile: dir + "/login.html", atomically: true, encoding: .utf8)
            let views = VigilServer.ViewRenderer(directories: [dir] + services.views.directories)
            let error = try #require(throws: TemplateProblems.self) {
                try views.check("login", model: Page<LoginPage>.self, strings: services.strings)
            }
            #expect(error.problems.map(\.name) == ["emial"])
            #expect(error.description.contains("login.html:\(line): emial is not a value of this page"))
            // The built-in template is fine.
            try services.views.check("login", model: Page<LoginPage>.self, strings: services.strings)
        }
    }

    @Test func loadersReadWhatThePagesShow() async throws {
        try await withApp { app in
            try await loadDemo(app)
            let db = app.db, strings = app.vigilServices.strings
            // The report form: the document, the officials it names, the totals.
            let report = try await ReportPage.load(document: "ua-126-19-0-en", thanks: "new", on: db, strings: strings)
            #expect(report.number == "UA 126/19" && report.docHref == "/urgent-actions/126-19/initial")
            #expect(report.targets.map(\.id).contains("ru-prosecutor-general"))
            #expect(report.channels.first?.checked == true && report.channels.dropFirst().allSatisfy { !$0.checked })
            #expect(report.byChannel.isEmpty && report.thanks == strings["report_thanks"])
            let other = try await ReportPage.load(document: "ua-126-19-0-en", thanks: nil, on: db, strings: strings)
            #expect(other.key != report.key, "each visit gets its own key")
            #expect(other.thanks == nil)
            await #expect(throws: Refusal.self) { _ = try await ReportPage.load(document: "no-such-document", thanks: nil, on: db, strings: strings) }
            await #expect(throws: Refusal.self) { _ = try await ReportPage.load(document: nil, thanks: nil, on: db, strings: strings) }
            // The editor page: tokens, newest first, and the mail counts.
            let maker = SupporterModel()
            maker.email = "maker@example.org"; maker.displayName = "Maker"; maker.language = "en"; maker.setRoles([.publisher])
            maker.createdAt = Date(); maker.updatedAt = Date()
            try await maker.create(on: db)
            _ = try await APIToken.create(role: "publisher", label: "first", createdBy: maker.id, on: db)
            let revoked = try await APIToken.create(role: "publisher", label: "second", createdBy: maker.id, on: db)
            try await APITokenModel.query(on: db).filter(\.$id == revoked.id).set(\.$revokedAt, to: Date()).update()
            try await Outbox.enqueue(to: "a@example.org", subject: "Hello", text: "Body", html: nil, from: "v@example.org", on: db)
            let admin = SupporterModel()
            admin.id = UUID(); admin.setRoles([.admin])
            let editor = try await EditorPage.load(on: db, for: admin, strings: strings, errors: ["bad"], zone: TimeZone(identifier: "UTC")!)
            #expect(editor.errors == ["bad"] && editor.mailPending == 1 && editor.mailFailed == 0 && editor.reports == 0)
            let byLabel = Dictionary(uniqueKeysWithValues: editor.tokens.map { ($0.label, $0) })
            #expect(byLabel["first"]?.active == true && byLabel["first"]?.revocable == true)
            #expect(byLabel["second"]?.active == false && byLabel["second"]?.revocable == false)
            #expect(byLabel["second"]?.state == strings["editor_token_revoked"])
            // The development outbox.
            let outbox = try await DevOutboxPage.load(on: db)
            #expect(outbox.messages.map(\.subject) == ["Hello"])
            #expect(outbox.messages.first?.error == nil && outbox.messages.first?.attempts == 0)
            // Following: the case's title; 404 for a case that does not exist.
            let follow = try await FollowPage.load(.case("demo-li-wei"), language: "en", on: db, catalogue: app.vigilServices.catalogue)
            #expect(follow.label == "Li Wei (fictional demo case)" && follow.languages.filter(\.selected).map(\.value) == ["en"])
            await #expect(throws: Refusal.self) { _ = try await FollowPage.label(.case("no-such-case"), on: db) }
        }
    }

    @Test func theErrorPageSaysWhatWentWrongButNeverWhy500() {
        let t = Strings(language: "en", table: ["error_404_title": "Page not found", "error_404_text": "Nothing here.",
                                                "error_500_title": "Error", "error_500_text": "Our fault.", "error_400_title": "Bad request",
                                                "error_title": "Something is wrong"])
        let missing = ErrorPage(status: .notFound, reason: "Not Found", strings: t)
        #expect(missing.heading == "Page not found" && missing.message == "Nothing here.")
        let missingCase = ErrorPage(status: .notFound, reason: "There is no such case.", strings: t)
        #expect(missingCase.message == "There is no such case.")
        let broken = ErrorPage(status: .internalServerError, reason: "SQL: table is locked", strings: t)
        #expect(broken.message == "Our fault.")
        let bad = ErrorPage(status: .badRequest, reason: "Unknown country", strings: t)
        #expect(bad.heading == "Bad request" && bad.message == "Unknown country")
        let other = ErrorPage(status: .forbidden, reason: "Editors only.", strings: t)
        #expect(other.heading == "Something is wrong" && other.message == "Editors only.")
    }
}
