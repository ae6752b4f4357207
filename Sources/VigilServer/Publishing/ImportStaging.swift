import Fluent
import Foundation
import SQLKit

/// Where an archive's import on SQLite puts the rows of its new cases before its write
/// transaction: temporary tables of the importing connection (SQLite keeps them in a file of
/// their own, private to that connection), which no other writer waits for. The transaction then
/// copies them in with one `INSERT … SELECT` a table and indexes them for search, so that SQLite's
/// write lock is held for the copy, not for reading the bundle and building its rows (20 s of a
/// 27 s import of 10,000 cases before; reports and log-ins give up after 10 s).
///
/// Only on the connection that staged them: `Publisher` stages and writes on one connection.
enum ImportStaging {
    /// The tables staged, parents first (the order they are copied in), with the columns of their
    /// rows (`BulkRow`).
    static let tables: [(name: String, columns: [String])] = [
        (CaseModel.schema, CaseModel.columns),
        (CaseCountryModel.schema, CaseCountryModel.columns),
        (CaseThemeModel.schema, CaseThemeModel.columns),
        (PersonModel.schema, PersonModel.columns),
        (TimelineEventModel.schema, TimelineEventModel.columns),
        (UrgentActionModel.schema, UrgentActionModel.columns),
        (DocumentModel.schema, DocumentModel.columns),
        (DocumentTargetModel.schema, DocumentTargetModel.columns),
    ]

    /// The search entries of the staged documents (`SearchIndex.Entry`), in `staged_search`.
    static let search = "search"
    static var searchTable: String { table(search) }
    static let searchColumns = ["document_id", "title", "summary", "body", "people", "targets"]

    /// The staging table of `table`, in the connection's `temp` schema.
    static func table(_ table: String) -> String { "staged_" + table }

    /// Empty staging tables (any left by an earlier import on this connection are dropped).
    ///
    /// The connection's temporary database gives the pages of dropped tables back (auto-vacuum):
    /// otherwise its file would keep the size of the largest import for as long as the
    /// connection lives, which in a server is for ever (about 40 MB a 10,000-case bundle's search
    /// entries alone). SQLite sets auto-vacuum when that database is made, by its first table, so
    /// the pragma comes first; `VACUUM` does nothing to it.
    static func create(on db: any Database) async throws {
        let sql = sqlite(db)
        try await drop(on: db)
        try await sql.raw("PRAGMA temp.auto_vacuum = FULL").run()
        for (name, columns) in tables + [(search, searchColumns)] {
            // Without types: each value is kept as it was bound, and takes the real column's
            // type when it is copied, as it would have if inserted there directly.
            try await sql.raw("CREATE TEMP TABLE \(ident: table(name)) (\(idents: columns, joinedBy: ", "))").run()
        }
    }

    /// Drops the staging tables of this connection.
    static func drop(on db: any Database) async throws {
        let sql = sqlite(db)
        for name in tables.map(\.name) + [search] {
            try await sql.raw("DROP TABLE IF EXISTS temp.\(ident: table(name))").run()
        }
    }

    /// Search entries, 120 a statement.
    static func stage(_ entries: [SearchIndex.Entry], on db: any Database) async throws {
        let sql = sqlite(db)
        for chunk in entries.chunks(of: 120) {
            var insert = sql.insert(into: SQLQualifiedTable(searchTable, space: "temp")).columns(searchColumns)
            for e in chunk {
                insert = insert.values([SQLBind(e.documentID), SQLBind(e.title), SQLBind(e.summary), SQLBind(e.body),
                                        SQLBind(e.people), SQLBind(e.targets)])
            }
            try await insert.run()
        }
    }

    /// The columns a copy dates with the time of the write, not of the staging: a weekly digest
    /// sent in between lists what was created since it last ran, and must not miss these rows.
    static let dated: Set<String> = ["created_at", "updated_at"]

    /// Inside the write transaction: copies every staged row into its table, parents first, dated
    /// `time`, and the search entries into the full-text index, keyed by rowid as
    /// `SearchIndex.write` keys them (a document indexed before, then deleted, keeps its row number).
    static func copy(on db: any Database, time: Date) async throws {
        let sql = sqlite(db)
        for (name, columns) in tables {
            let values = SQLList(columns.map { dated.contains($0) ? SQLBind(time) as any SQLExpression : SQLIdentifier($0) })
            try await sql.raw("""
                INSERT INTO main.\(ident: name) (\(idents: columns, joinedBy: ", "))
                SELECT \(values) FROM temp.\(ident: table(name)) ORDER BY rowid
                """).run()
        }
        // `WHERE true`: SQLite's grammar needs it before an upsert's ON CONFLICT.
        try await sql.raw("""
            INSERT INTO document_fts_rows (document_id)
            SELECT document_id FROM temp.\(ident: searchTable) WHERE true ORDER BY rowid
            ON CONFLICT (document_id) DO NOTHING
            """).run()
        try await sql.raw("""
            DELETE FROM documents_fts WHERE rowid IN
              (SELECT r.fts_row FROM document_fts_rows r JOIN temp.\(ident: searchTable) s ON s.document_id = r.document_id)
            """).run()
        try await sql.raw("""
            INSERT INTO documents_fts (rowid, document_id, title, summary, body, people, targets)
            SELECT r.fts_row, s.document_id, s.title, s.summary, s.body, s.people, s.targets
            FROM temp.\(ident: searchTable) s JOIN document_fts_rows r ON r.document_id = s.document_id ORDER BY s.rowid
            """).run()
    }

    private static func sqlite(_ db: any Database) -> any SQLDatabase {
        guard db.isSQLite, let sql = db as? any SQLDatabase else { preconditionFailure("an import is staged on SQLite only") }
        return sql
    }
}
