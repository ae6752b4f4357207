import Fluent
import Foundation
import SQLKit

/// SQLite: each document's full-text row gets a fixed rowid, kept in `document_fts_rows`.
/// FTS5 finds a row quickly only by its rowid (or a MATCH); `WHERE document_id = ?` read the
/// whole index, so rewriting one document's entry cost as much as the archive was large, and an
/// import of 10,000 cases grew with the square of its size. The index is built again once, each
/// entry under its row. PostgreSQL's `document_search` is keyed by `document_id` already.
struct KeySearchRows: AsyncMigration {
    func prepare(on db: any Database) async throws {
        guard db.isSQLite else { return }
        // One transaction: interrupted, it leaves the index as it was and runs again whole.
        try await db.transaction { db in
            guard let sql = db as? any SQLDatabase else { return }
            try await sql.raw("""
                CREATE TABLE IF NOT EXISTS document_fts_rows (
                    fts_row INTEGER PRIMARY KEY,
                    document_id TEXT NOT NULL UNIQUE)
                """).run()
            try await sql.raw("DELETE FROM documents_fts").run()
            // Only the id: the model's other columns may be added by later migrations.
            let ids = try await DocumentModel.query(on: db).all(\.$id)
            try await SearchIndex.update(documentIDs: ids, on: db)
        }
    }

    func revert(on db: any Database) async throws {
        guard db.isSQLite, let sql = db as? any SQLDatabase else { return }
        try await sql.raw("DROP TABLE IF EXISTS document_fts_rows").run()
    }
}
