import Fluent
import SQLKit

/// On PostgreSQL, each full-text row (`document_search`) carries its document's action, original
/// and publication date, kept equal to the document's by triggers: a search page then orders,
/// groups and leaves out withdrawn actions from the hits alone, instead of looking each of up to
/// 500 hits up in `documents` (about 1.5 ms of a common word's page at 10,000 documents:
/// BENCHMARKS, B7). The triggers hold whatever writes the rows — Vigil's code in any process, an
/// administrator's SQL: a row takes its document's values when it is written, and a document's
/// change of them reaches its row. SQLite's index (FTS5) is looked up by key and is not changed.
struct CopyListingColumnsToSearchRows: AsyncMigration {
    func prepare(on db: any Database) async throws {
        guard !db.isSQLite, let sql = db as? any SQLDatabase else { return }
        try await sql.raw("""
            ALTER TABLE document_search ADD COLUMN urgent_action_id TEXT, ADD COLUMN translation_of TEXT, ADD COLUMN published TEXT
            """).run()
        try await sql.raw("""
            UPDATE document_search s SET urgent_action_id = d.urgent_action_id, translation_of = d.translation_of, published = d.published
            FROM documents d WHERE d.id = s.document_id
            """).run()
        try await sql.raw("ALTER TABLE document_search ALTER COLUMN urgent_action_id SET NOT NULL, ALTER COLUMN published SET NOT NULL").run()
        try await sql.raw("""
            CREATE FUNCTION vigil_search_row_listing() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                SELECT d.urgent_action_id, d.translation_of, d.published INTO NEW.urgent_action_id, NEW.translation_of, NEW.published
                FROM documents d WHERE d.id = NEW.document_id;
                RETURN NEW;
            END $$
            """).run()
        try await sql.raw("""
            CREATE TRIGGER document_search_listing BEFORE INSERT OR UPDATE ON document_search
            FOR EACH ROW EXECUTE FUNCTION vigil_search_row_listing()
            """).run()
        try await sql.raw("""
            CREATE FUNCTION vigil_document_listing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE document_search SET document_id = document_id WHERE document_id = NEW.id;
                RETURN NULL;
            END $$
            """).run()
        try await sql.raw("""
            CREATE TRIGGER documents_listing_changed AFTER UPDATE OF urgent_action_id, translation_of, published ON documents
            FOR EACH ROW WHEN (OLD.urgent_action_id IS DISTINCT FROM NEW.urgent_action_id
                               OR OLD.translation_of IS DISTINCT FROM NEW.translation_of OR OLD.published IS DISTINCT FROM NEW.published)
            EXECUTE FUNCTION vigil_document_listing_changed()
            """).run()
        try await sql.raw("ANALYZE document_search").run()
    }

    func revert(on db: any Database) async throws {
        guard !db.isSQLite, let sql = db as? any SQLDatabase else { return }
        try await sql.raw("DROP TRIGGER IF EXISTS documents_listing_changed ON documents").run()
        try await sql.raw("DROP FUNCTION IF EXISTS vigil_document_listing_changed()").run()
        try await sql.raw("DROP TRIGGER IF EXISTS document_search_listing ON document_search").run()
        try await sql.raw("DROP FUNCTION IF EXISTS vigil_search_row_listing()").run()
        try await sql.raw("""
            ALTER TABLE document_search DROP COLUMN IF EXISTS urgent_action_id, DROP COLUMN IF EXISTS translation_of,
            DROP COLUMN IF EXISTS published
            """).run()
    }
}
