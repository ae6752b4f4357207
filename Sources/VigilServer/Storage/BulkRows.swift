import Fluent
import Foundation
import SQLKit

/// A model whose new rows an archive's import writes with SQLKit in multi-row statements,
/// bypassing Fluent's per-model work (reflection over every property, three times a row, was
/// most of an import's time). Each value is bound as Fluent would bind it, so the stored bytes
/// are the same; a test checks that `columns` names exactly the model's fields.
protocol BulkRow: Model {
    /// The columns written, in the order of `values`.
    static var columns: [String] { get }
    /// This row's values; a model with a generated id is given one here.
    func values() -> [any Encodable & Sendable]
}

extension Database {
    /// New rows of one table in as few statements as the databases' limits on bound values allow
    /// (SQLite's is 32,766 today, 999 in older builds; PostgreSQL's 65,535): at most 900 values each.
    /// `table`: another table with the model's columns (an import's staging table, `ImportStaging`).
    func insertBulk<M: BulkRow>(_ rows: [M], into table: String? = nil) async throws {
        guard !rows.isEmpty else { return }
        guard let sql = self as? any SQLDatabase else {
            precondition(table == nil, "staging tables are SQL tables")
            try await rows.create(on: self)
            return
        }
        for chunk in rows.chunks(of: max(1, 900 / M.columns.count)) {
            var insert = sql.insert(into: table ?? M.schema).columns(M.columns)
            for row in chunk {
                insert = insert.values(row.values().map { SQLBind($0) as any SQLExpression })
            }
            try await insert.run()
        }
    }
}

extension CaseModel: BulkRow {
    static let columns = ["id", "title", "summary", "region", "status", "content_hash", "created_at", "updated_at"]
    func values() -> [any Encodable & Sendable] { [id!, title, summary, region, status, contentHash, createdAt, updatedAt] }
}

extension CaseCountryModel: BulkRow {
    static let columns = ["id", "case_id", "position", "country"]
    func values() -> [any Encodable & Sendable] {
        if id == nil { id = UUID() }
        return [id!, caseID, position, country]
    }
}

extension CaseThemeModel: BulkRow {
    static let columns = ["id", "case_id", "position", "theme"]
    func values() -> [any Encodable & Sendable] {
        if id == nil { id = UUID() }
        return [id!, caseID, position, theme]
    }
}

extension PersonModel: BulkRow {
    static let columns = ["id", "case_id", "position", "name", "name_original", "name_original_language", "pronouns", "role",
                          "status", "charges_json", "sentences_json"]
    func values() -> [any Encodable & Sendable] {
        [id!, caseID, position, name, nameOriginal, nameOriginalLanguage, pronouns, role, status, chargesJSON, sentencesJSON]
    }
}

extension TimelineEventModel: BulkRow {
    static let columns = ["id", "case_id", "position", "date", "date_sort", "kind", "people_json", "summary", "source"]
    func values() -> [any Encodable & Sendable] {
        if id == nil { id = UUID() }
        return [id!, caseID, position, date, dateSort, kind, peopleJSON, summary, source]
    }
}

extension UrgentActionModel: BulkRow {
    static let columns = ["id", "number", "case_id", "status", "deadline", "deadline_last", "sort_key", "created_at", "updated_at",
                          "withdrawn_at", "withdrawn_reason"]
    func values() -> [any Encodable & Sendable] {
        [id!, number, caseID, status, deadline, deadlineLast, sortKey, createdAt, updatedAt, withdrawnAt, withdrawnReason]
    }
}

extension DocumentModel: BulkRow {
    static let columns = ["id", "urgent_action_id", "sequence", "kind", "outcome", "no_further_action", "language", "translation_of",
                          "ai_index", "published", "title", "summary", "body", "has_take_action", "deadline",
                          "preferred_languages_json", "copies_to_json", "letter", "other_channels", "additional_information",
                          "quote_text", "quote_by", "corrections_json", "content_hash", "created_at", "updated_at"]
    func values() -> [any Encodable & Sendable] {
        [id!, urgentActionID, sequence, kind, outcome, noFurtherAction, language, translationOf, aiIndex, published, title, summary,
         body, hasTakeAction, deadline, preferredLanguagesJSON, copiesToJSON, letter, otherChannels, additionalInformation,
         quoteText, quoteBy, correctionsJSON, contentHash, createdAt, updatedAt]
    }
}

extension DocumentTargetModel: BulkRow {
    static let columns = ["id", "document_id", "target_id", "position"]
    func values() -> [any Encodable & Sendable] {
        if id == nil { id = UUID() }
        return [id!, documentID, targetID, position]
    }
}
