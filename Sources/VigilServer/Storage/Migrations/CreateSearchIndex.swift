import Fluent
import Foundation
import SQLKit

struct CreateSearchIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        if db.isSQLite {
            try await sql.raw("""
                CREATE VIRTUAL TABLE documents_fts USING fts5(
                    document_id UNINDEXED, title, summary, body, people, targets,
                    tokenize = 'unicode61 remove_diacritics 2')
                """).run()
        } else {
            try await sql.raw("""
                CREATE TABLE document_search (
                    document_id TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
                    content TEXT NOT NULL, tsv TSVECTOR NOT NULL)
                """).run()
            try await sql.raw("CREATE INDEX document_search_tsv_idx ON document_search USING GIN (tsv)").run()
        }
        // Only the id: the model's other columns may be added by later migrations. (SQLite's
        // entries are written by `KeySearchRows`, under the rows it keeps.)
        guard !db.isSQLite else { return }
        let ids = try await DocumentModel.query(on: db).all(\.$id)
        try await SearchIndex.update(documentIDs: ids, on: db)
    }

    func revert(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        try await sql.raw(db.isSQLite ? "DROP TABLE IF EXISTS documents_fts" : "DROP TABLE IF EXISTS document_search").run()
    }
}
