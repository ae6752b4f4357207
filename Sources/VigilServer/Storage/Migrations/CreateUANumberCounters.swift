import Fluent

/// The last urgent action number Vigil assigned in each year (`UANumbers`): `year` is the
/// two-digit year of `UANumber` (2026 → 26). Numbers stored without the allocator (imports, the
/// demo) are read from `urgent_actions` as well, so the table may lag behind them.
struct CreateUANumberCounters: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema(UANumbers.table)
            .field("year", .int, .required)
            .field("last", .int, .required)
            .compositeIdentifier(over: "year")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema(UANumbers.table).delete()
    }
}
