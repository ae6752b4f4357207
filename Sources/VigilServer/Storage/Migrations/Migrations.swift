import Fluent
import SQLKit

// One migration per change, each with a real revert, each in its own file in Migrations/. Tables and plain indexes are
// made with Fluent's schema builder and SQLKit's dialect-neutral index builder, so SQLite and PostgreSQL get the same
// schema. Raw SQL is used where no builder reaches, in statements both databases read alike: the search index (FTS5 on
// SQLite, a tsvector table on PostgreSQL: CreateSearchIndex, KeySearchRows), partial indexes (`CREATE INDEX IF NOT
// EXISTS … WHERE …`: IndexTranslations, IndexWithdrawnActionsOnly) and data moved by a migration (AddSecondFactor,
// AddUrgentActionDeadline).

enum Migrations {
    static let all: [any AsyncMigration] = [
        CreateTargets(), CreateCases(), CreatePeople(), CreateTimelineEvents(), CreateUrgentActions(),
        CreateDocuments(), CreateSupporters(), CreateAPITokens(), CreateActionReports(), CreateFollows(),
        CreateReplies(), CreateSearchIndex(), CreateMailOutbox(), CreateSessionsAndTokens(), CreateReportCounters(), AddDigests(), AddFollowLanguage(), AddEditors(),
        AddOutboxSupporter(), AddTokenScopeAndExpiry(), AddRateLimitExpiry(), CreatePublishingLog(), AddUrgentActionDeadline(),
        CreateEmailFollows(), AddFollowConsent(), AddSecondFactor(),
        CreateUANumberCounters(),
        CreateAuditLog(),
        AddUrgentActionWithdrawal(),
        CreateDrafts(),
        AddCorrectionsAndOriginalNames(),
        AddTargetSuccessionsAndMissions(),
        AddAccountTimeZone(),
        CreateJobRuns(),
        CreateMailSuppressions(),
        KeySearchRows(),
        IndexTranslations(),
        IndexWithdrawnActionsOnly(),
    ]
}

extension Database {
    func createIndex(_ name: String, on table: String, _ columns: String...) async throws {
        guard let sql = self as? any SQLDatabase else { return }
        var builder = sql.create(index: name).on(table)
        for c in columns { builder = builder.column(c) }
        try await builder.run()
    }

    func dropIndex(_ name: String) async throws {
        guard let sql = self as? any SQLDatabase else { return }
        try await sql.drop(index: name).ifExists().run()
    }
}
