import Fluent

/// A newsroom account may choose the time zone its pages show times in (schedules, revisions,
/// the audit trail); without one, the organisation's (`VIGIL_TIME_ZONE`) is used.
struct AddAccountTimeZone: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supporters").field("time_zone", .string).update()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("supporters").deleteField("time_zone").update()
    }
}
