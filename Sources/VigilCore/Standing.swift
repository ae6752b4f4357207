import Foundation
import Synchronization

/// Where an urgent action stands for a supporter today: the one definition of "you can act on
/// this now", used by every page, card, list filter, feed and the API.
///
/// - `open`: not closed, and its deadline (if it has one) has not passed.
/// - `deadlinePassed`: not closed, but the deadline in force ended before today.
/// - `closed`: an outcome (or an editor) closed it.
public enum ActionStanding: String, CaseIterable, Sendable {
    case open
    case deadlinePassed = "deadline-passed"
    case closed

    /// Whether supporters are asked to act.
    public var isActionable: Bool { self == .open }

    /// `status` as stored; `deadline` the deadline in force (`UrgentAction.deadline(of:)`);
    /// `today` the organisation's date, `YYYY-MM-DD` (`ActionClock.today`).
    ///
    /// A deadline ends at the end of its last day: a day deadline at the end of that day, a month
    /// deadline at the end of the month, a year deadline at the end of the year.
    public static func of(status: UrgentActionStatus, deadline: PartialDate?, today: String) -> ActionStanding {
        if status == .closed { return .closed }
        if let deadline, deadline.latest < today { return .deadlinePassed }
        return .open
    }
}

extension UrgentAction {
    /// The deadline in force: the one given by the newest document (in sequence order) that gives
    /// one. An update's deadline replaces the earlier one; a document without a deadline leaves
    /// the earlier one in force; without any the action is open until it is closed. Translations
    /// repeat their original's deadline and are not read.
    public static func deadline(of documents: some Sequence<Document>) -> PartialDate? {
        deadline(ofRows: documents.map { ($0.sequence, $0.takeAction?.deadline, $0.translationOf != nil) })
    }

    /// The same rule over stored rows: `(sequence, deadline, is a translation)`.
    public static func deadline(ofRows rows: some Sequence<(sequence: Int, deadline: PartialDate?, isTranslation: Bool)>) -> PartialDate? {
        rows.filter { !$0.isTranslation && $0.deadline != nil }.max { $0.sequence < $1.sequence }?.deadline
    }
}

/// The organisation's calendar: deadlines end at midnight in its time zone (`VIGIL_TIME_ZONE`,
/// UTC by default).
public struct ActionClock: Sendable {
    public let timeZone: TimeZone
    /// A date that stands for today whatever the time (`VIGIL_TODAY`): for the tests and for
    /// showing the demo as it was written. Never set in production.
    public let fixedToday: String?

    public init(timeZone: TimeZone = TimeZone(identifier: "UTC")!, fixedToday: String? = nil) {
        self.timeZone = timeZone; self.fixedToday = fixedToday
    }

    /// The date at `now` in the organisation's time zone, `YYYY-MM-DD`.
    public func today(_ now: Date = Date()) -> String {
        if let fixedToday { return fixedToday }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: now)
        return String(format: "%04d-%02d-%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1)
    }

    /// A time zone by its IANA name (`Europe/London`), or nil when there is no such zone.
    public static func zone(named name: String) -> TimeZone? {
        guard !name.isEmpty, name.count <= 64, let tz = TimeZone(identifier: name) else { return nil }
        return tz
    }

    private static let configured = Mutex(ActionClock())

    /// The clock of this process, set once from the configuration at start.
    public static var current: ActionClock {
        get { configured.withLock { $0 } }
        set { configured.withLock { $0 = newValue } }
    }
}
