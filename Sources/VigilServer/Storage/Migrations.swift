import Fluent
import SQLKit

// One migration per change, each with a real revert. Only Fluent's schema builder and
// SQLKit's dialect-neutral index builder are used, so SQLite and PostgreSQL get the same schema.

enum Migrations {
    static let all: [any AsyncMigration] = [
        CreateTargets(), CreateCases(), CreatePeople(), CreateTimelineEvents(), CreateUrgentActions(),
        CreateDocuments(), CreateSupporters(), CreateAPITokens(), CreateActionReports(), CreateFollows(),
        CreateReplies(), CreateSearchIndex(), CreateMailOutbox(), CreateSessionsAndTokens(), CreateReportCounters(), AddDigests(), AddFollowLanguage(), AddEditors(),
        AddOutboxSupporter(), AddTokenScopeAndExpiry(), AddRateLimitExpiry(), CreatePublishingLog(),
    ]
}

extension Database {
    func createIndex(_ name: String, on table: String, _ columns: String...) async throws {
        guard let sql = self as? any SQLDatabase else { return }
        var builder = sql.create(index: name).on(table)
        for c in columns { builder = builder.column(c) }
        try await builder.run()
    }
}

private func index(_ db: any Database, _ name: String, on table: String, _ columns: String...) async throws {
    guard let sql = db as? any SQLDatabase else { return }
    var builder = sql.create(index: name).on(table)
    for c in columns { builder = builder.column(c) }
    try await builder.run()
}

private func dropIndex(_ db: any Database, _ name: String) async throws {
    guard let sql = db as? any SQLDatabase else { return }
    try await sql.drop(index: name).ifExists().run()
}

struct CreateTargets: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("targets")
            .field("id", .string, .identifier(auto: false))
            .field("title", .string, .required)
            .field("name", .string)
            .field("organisation", .string)
            .field("address_json", .string, .required)
            .field("country", .string)
            .field("email", .string)
            .field("fax", .string)
            .field("phone", .string)
            .field("social_json", .string, .required)
            .field("web_form", .string)
            .field("salutation_json", .string, .required)
            .field("languages_json", .string, .required)
            .field("valid_from", .string)
            .field("valid_to", .string)
            .field("channel_notes", .string)
            .field("content_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .create()
        try await index(db, "targets_country_idx", on: "targets", "country")
        try await index(db, "targets_updated_idx", on: "targets", "updated_at")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("targets").delete()
    }
}

struct CreateCases: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("cases")
            .field("id", .string, .identifier(auto: false))
            .field("title", .string, .required)
            .field("summary", .string)
            .field("region", .string)
            .field("status", .string, .required)
            .field("content_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .create()
        try await index(db, "cases_updated_idx", on: "cases", "updated_at")
        try await db.schema("case_countries")
            .id()
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("country", .string, .required)
            .unique(on: "case_id", "country")
            .create()
        try await index(db, "case_countries_country_idx", on: "case_countries", "country")
        try await db.schema("case_themes")
            .id()
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("theme", .string, .required)
            .unique(on: "case_id", "theme")
            .create()
        try await index(db, "case_themes_theme_idx", on: "case_themes", "theme")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("case_themes").delete()
        try await db.schema("case_countries").delete()
        try await db.schema("cases").delete()
    }
}

struct CreatePeople: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("people")
            .field("id", .string, .identifier(auto: false))
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("name", .string, .required)
            .field("pronouns", .string)
            .field("role", .string)
            .field("status", .string, .required)
            .field("charges_json", .string, .required)
            .field("sentences_json", .string, .required)
            .create()
        try await index(db, "people_case_idx", on: "people", "case_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("people").delete()
    }
}

struct CreateTimelineEvents: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("timeline_events")
            .id()
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .cascade))
            .field("position", .int, .required)
            .field("date", .string, .required)
            .field("date_sort", .string, .required)
            .field("kind", .string, .required)
            .field("people_json", .string, .required)
            .field("summary", .string, .required)
            .field("source", .string)
            .create()
        try await index(db, "timeline_events_case_idx", on: "timeline_events", "case_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("timeline_events").delete()
    }
}

struct CreateUrgentActions: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("urgent_actions")
            .field("id", .string, .identifier(auto: false))
            .field("number", .string, .required)
            .field("case_id", .string, .required, .references("cases", "id", onDelete: .restrict))
            .field("status", .string, .required)
            .field("sort_key", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "number")
            .create()
        try await index(db, "urgent_actions_case_idx", on: "urgent_actions", "case_id")
        try await index(db, "urgent_actions_sort_idx", on: "urgent_actions", "sort_key")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("urgent_actions").delete()
    }
}

struct CreateDocuments: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("documents")
            .field("id", .string, .identifier(auto: false))
            .field("urgent_action_id", .string, .required, .references("urgent_actions", "id", onDelete: .restrict))
            .field("sequence", .int, .required)
            .field("kind", .string, .required)
            .field("outcome", .string)
            .field("no_further_action", .bool, .required)
            .field("language", .string, .required)
            .field("translation_of", .string)
            .field("ai_index", .string)
            .field("published", .string, .required)
            .field("title", .string, .required)
            .field("summary", .string)
            .field("body", .string, .required)
            .field("has_take_action", .bool, .required)
            .field("deadline", .string)
            .field("preferred_languages_json", .string, .required)
            .field("copies_to_json", .string, .required)
            .field("letter", .string)
            .field("other_channels", .string)
            .field("additional_information", .string)
            .field("quote_text", .string)
            .field("quote_by", .string)
            .field("content_hash", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "urgent_action_id", "sequence", "language")
            .create()
        try await index(db, "documents_updated_idx", on: "documents", "updated_at")
        try await index(db, "documents_published_idx", on: "documents", "published")
        try await db.schema("document_targets")
            .id()
            .field("document_id", .string, .required, .references("documents", "id", onDelete: .cascade))
            .field("target_id", .string, .required, .references("targets", "id", onDelete: .restrict))
            .field("position", .int, .required)
            .unique(on: "document_id", "target_id")
            .create()
        try await index(db, "document_targets_target_idx", on: "document_targets", "target_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("document_targets").delete()
        try await db.schema("documents").delete()
    }
}

struct CreateSupporters: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supporters")
            .id()
            .field("email", .string, .required)
            .field("display_name", .string, .required)
            .field("country", .string)
            .field("language", .string, .required)
            .field("password_hash", .string)
            .field("email_verified_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "email")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("supporters").delete()
    }
}

struct CreateAPITokens: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("api_tokens")
            .id()
            .field("token_hash", .string, .required)
            .field("role", .string, .required)
            .field("label", .string)
            .field("created_at", .datetime, .required)
            .field("revoked_at", .datetime)
            .unique(on: "token_hash")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("api_tokens").delete()
    }
}

struct CreateActionReports: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("action_reports")
            .id()
            .field("document_id", .string, .required, .references("documents", "id", onDelete: .restrict))
            .field("target_id", .string, .references("targets", "id", onDelete: .setNull))
            .field("channel", .string, .required)
            .field("idempotency_key", .string, .required)
            .field("supporter_id", .uuid, .references("supporters", "id", onDelete: .setNull))
            .field("created_at", .datetime, .required)
            .unique(on: "idempotency_key")
            .create()
        try await index(db, "action_reports_document_idx", on: "action_reports", "document_id")
        try await index(db, "action_reports_supporter_idx", on: "action_reports", "supporter_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("action_reports").delete()
    }
}

struct CreateFollows: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("follows")
            .id()
            .field("supporter_id", .uuid, .required, .references("supporters", "id", onDelete: .cascade))
            .field("subject_kind", .string, .required)
            .field("subject_value", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "supporter_id", "subject_kind", "subject_value")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("follows").delete()
    }
}

struct CreateReplies: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("replies")
            .id()
            .field("urgent_action_id", .string, .required, .references("urgent_actions", "id", onDelete: .cascade))
            .field("target_id", .string, .references("targets", "id", onDelete: .setNull))
            .field("received", .string, .required)
            .field("summary", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("replies").delete()
    }
}
