import Fluent

/// When each periodic job last started, across every process on the database: the claim that
/// lets exactly one of several `vigil serve` processes run a job in each interval.
struct CreateJobRuns: AsyncMigration {
    func prepare(on database: any Database) async throws {
        try await database.schema("job_runs")
            .field("name", .string, .identifier(auto: false))
            .field("started_at", .double, .required)
            .field("holder", .string, .required)
            .field("runs", .int64, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("job_runs").delete()
    }
}
