import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilServer

/// PostgreSQL's full-text rows carry their documents' action, original and publication date
/// (`CopyListingColumnsToSearchRows`), which a search page reads instead of the documents: they
/// must equal the documents' whatever writes either.
@Suite("The listing columns of PostgreSQL's search rows") struct SearchRowListingTests {
    private static var postgres: [TestStorage] { TestStorage.available.filter { $0 == .postgres } }

    /// The rows whose copy differs from their document.
    private func differing(_ sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("""
            SELECT s.document_id FROM document_search s JOIN documents d ON d.id = s.document_id
            WHERE s.urgent_action_id IS DISTINCT FROM d.urgent_action_id OR s.translation_of IS DISTINCT FROM d.translation_of
               OR s.published IS DISTINCT FROM d.published
            """).all().map { try $0.decode(column: "document_id", as: String.self) }
    }

    @Test(arguments: postgres) func theRowsFollowTheirDocuments(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let sql = app.db as! any SQLDatabase
            try await loadDemo(app)
            let rows = try await sql.raw("SELECT COUNT(*) AS n FROM document_search").first()?.decode(column: "n", as: Int.self) ?? 0
            #expect(rows == (try await DocumentModel.query(on: app.db).count()), "every document of the demo is indexed")
            #expect(try await differing(sql).isEmpty, "written by SearchIndex.write")
            // Changed behind Vigil's back, as an administrator's SQL would: each row follows.
            try await sql.raw("UPDATE documents SET published = '2001-02-03T00:00:00Z', translation_of = NULL WHERE id = 'ua-77-26-0-ar'").run()
            try await sql.raw("UPDATE documents SET translation_of = 'ua-77-26-0-ar' WHERE id = 'ua-77-26-0-en'").run()
            let moved = try await sql.raw("SELECT published, translation_of FROM document_search WHERE document_id IN ('ua-77-26-0-ar', 'ua-77-26-0-en') ORDER BY document_id").all()
            #expect(try moved.map { try $0.decode(column: "published", as: String.self) }.first == "2001-02-03T00:00:00Z")
            #expect(try moved.map { try $0.decode(column: "translation_of", as: String?.self) } == [nil, "ua-77-26-0-ar"])
            #expect(try await differing(sql).isEmpty)
            // A row written again, or written by hand with other values, takes its document's.
            try await sql.raw("UPDATE document_search SET published = 'nonsense', urgent_action_id = 'nonsense' WHERE document_id = 'ua-77-26-0-en'").run()
            try await sql.raw("DELETE FROM document_search WHERE document_id = 'ua-126-19-0-en'").run()
            try await SearchIndex.update(documentIDs: ["ua-126-19-0-en"], on: app.db)
            #expect(try await differing(sql).isEmpty)
        }
    }

    @Test(arguments: postgres) func aSearchLeavesOutAWithdrawnActionFromTheCopy(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let sql = app.db as! any SQLDatabase
            try await loadDemo(app)
            let before = try await SiteData(db: app.db).filter(try CatalogueQuery("q=Kuku", allowed: CatalogueQuery.siteKeys), pageLanguage: "en").ids
            #expect(!before.isEmpty)
            // Withdrawn by SQL alone: its rows stay in the index, and the search leaves them out.
            let action = try await sql.raw("SELECT urgent_action_id FROM documents WHERE id = \(bind: before[0])").first()!.decode(column: "urgent_action_id", as: String.self)
            try await sql.raw("UPDATE urgent_actions SET withdrawn_at = '2026-11-01T00:00:00Z' WHERE id = \(bind: action)").run()
            let after = try await SiteData(db: app.db).filter(try CatalogueQuery("q=Kuku", allowed: CatalogueQuery.siteKeys), pageLanguage: "en").ids
            let ofAction = try await sql.raw("SELECT id FROM documents WHERE urgent_action_id = \(bind: action)").all().map { try $0.decode(column: "id", as: String.self) }
            #expect(Set(after).isDisjoint(with: ofAction))
            #expect(after == before.filter { !ofAction.contains($0) })
        }
    }
}
