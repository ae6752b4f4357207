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

extension DocumentModel {
    /// A row of `columns`, unprefixed, read by a plain statement, as Fluent would read it: Fluent's
    /// own decode reflects over every property of every row it reads, which cost more than half
    /// of a search page's cards (2.8 of 5.4 ms for 20 documents at 10,000). A test checks that
    /// every field comes from its own column. For reading: Fluent does not know the model was
    /// stored, so it is not to be saved.
    convenience init(row: any SQLRow) throws {
        self.init()
        id = try row.decode(column: "id", as: String.self)
        urgentActionID = try row.decode(column: "urgent_action_id", as: String.self)
        sequence = try row.decode(column: "sequence", as: Int.self)
        kind = try row.decode(column: "kind", as: String.self)
        outcome = try row.decode(column: "outcome", as: String?.self)
        noFurtherAction = try row.decode(column: "no_further_action", as: Bool.self)
        language = try row.decode(column: "language", as: String.self)
        translationOf = try row.decode(column: "translation_of", as: String?.self)
        aiIndex = try row.decode(column: "ai_index", as: String?.self)
        published = try row.decode(column: "published", as: String.self)
        title = try row.decode(column: "title", as: String.self)
        summary = try row.decode(column: "summary", as: String?.self)
        body = try row.decode(column: "body", as: String.self)
        hasTakeAction = try row.decode(column: "has_take_action", as: Bool.self)
        deadline = try row.decode(column: "deadline", as: String?.self)
        preferredLanguagesJSON = try row.decode(column: "preferred_languages_json", as: String.self)
        copiesToJSON = try row.decode(column: "copies_to_json", as: String.self)
        letter = try row.decode(column: "letter", as: String?.self)
        otherChannels = try row.decode(column: "other_channels", as: String?.self)
        additionalInformation = try row.decode(column: "additional_information", as: String?.self)
        quoteText = try row.decode(column: "quote_text", as: String?.self)
        quoteBy = try row.decode(column: "quote_by", as: String?.self)
        correctionsJSON = try row.decode(column: "corrections_json", as: String.self)
        contentHash = try row.decode(column: "content_hash", as: String.self)
        createdAt = try row.decode(column: "created_at", as: Date.self)
        updatedAt = try row.decode(column: "updated_at", as: Date.self)
    }
}

extension DocumentTargetModel: BulkRow {
    static let columns = ["id", "document_id", "target_id", "position"]
    func values() -> [any Encodable & Sendable] {
        if id == nil { id = UUID() }
        return [id!, documentID, targetID, position]
    }
}
