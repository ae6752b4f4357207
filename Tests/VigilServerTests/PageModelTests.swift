import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Page models: every template is checked against its model at start, and the reference of
/// template values in docs/theming.md is generated from the models.
@Suite("Page models")
struct PageModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// An operator's template that names a value its page does not have stops the start, naming it.
    @Test func anOverrideNamingAnUnknownValueFailsAtStart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-views-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = try String(contentsOf: Self.root.appendingPathComponent("Resources/Views/home.html"), encoding: .utf8)
        try home.replacingOccurrences(of: "{{totals}}", with: "{{total_reports}}")
            .write(to: dir.appendingPathComponent("home.html"), atomically: true, encoding: .utf8)
        let message = await #expect(throws: (any Error).self) {
            try await withApp(.sqlite, configure: { $0.viewsDirectory = dir.path }) { _ in }
        }
        let text = message.map { String(describing: $0) } ?? ""
        #expect(text.contains("total_reports") && text.contains("home"), "\(text)")
    }

    @Test func theBuiltInTemplatesMatchTheirModels() async throws {
        try await withApp { app in
            for (template, model) in Pages.all {
                #expect(throws: Never.self, "\(template)") { try app.vigilServices.views.check(template, model: model, strings: app.vigilServices.strings) }
            }
        }
    }

    /// Each page renders from its example model: the example is what docs/theming.md shows.
    @Test func everyExampleRenders() async throws {
        try await withApp { app in
            for (template, model) in Pages.all {
                let html = try render(app.vigilServices, template, model.example)
                #expect(html.contains("<html") && html.contains("</html>"), "\(template)")
            }
        }
    }

    func render<M: TemplateModel>(_ services: VigilServices, _ template: String, _ model: M) throws -> String {
        try services.views.render(template, model, strings: services.strings)
    }

    /// docs/theming.md holds the reference `vigil templates` prints, so it cannot drift.
    @Test func theThemingGuideListsWhatTheModelsHave() throws {
        let guide = try String(contentsOf: Self.root.appendingPathComponent("docs/theming.md"), encoding: .utf8)
        let start = try #require(guide.range(of: Pages.generatedStart), "docs/theming.md lacks the generated reference")
        let end = try #require(guide.range(of: Pages.generatedEnd))
        let committed = String(guide[start.lowerBound..<end.upperBound]) + "\n"
        #expect(committed == (try Pages.reference()), "docs/theming.md is out of date: run `vigil templates` and paste its output")
    }
}
