import Fluent
import SQLKit

// One migration per change, each with a real revert, each in its own file in Migrations/. Only Fluent's schema builder and
// SQLKit's dialect-neutral index builder are used, so SQLite and PostgreSQL get the same schema.

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
