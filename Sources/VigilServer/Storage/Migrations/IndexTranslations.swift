import Fluent
import SQLKit

/// A document's translations by the original they translate (`translation_of`) and language.
/// Every list and search page looks up its entries' translations into the page's language, and
/// without an index each look read every document: 3.4 ms of each search page at 10,000
/// documents (B7), growing with the archive.
///
/// Partial (translations only): the many statements that ask for originals
/// (`translation_of IS NULL`) cannot take it. A whole index tempted SQLite's planner, before it
/// had measured the index, into reading every original to find a few actions' outcomes (4.6 ms
/// of each list page at 10,000 documents instead of 0.04).
struct IndexTranslations: AsyncMigration {
    func prepare(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        try await sql.raw("""
            CREATE INDEX IF NOT EXISTS documents_translation_idx ON documents (translation_of, language) WHERE translation_of IS NOT NULL
            """).run()
    }
    func revert(on db: any Database) async throws {
        try await db.dropIndex("documents_translation_idx")
    }
}
