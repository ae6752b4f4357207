import Fluent
import Foundation
import VigilCore

/// A label and a value, for the facts at the top of a newsroom page.
struct Fact: Encodable, Sendable, Equatable {
    var label: String
    var value: String
}

/// One changed field of a comparison: its path, and the text before and after (empty: absent).
struct ChangeRow: Encodable, Sendable, Equatable {
    var path: String
    var before: String
    var after: String
    var added: Bool
    var removed: Bool

    init(_ c: FieldChange) {
        path = c.path; before = c.before ?? ""; after = c.after ?? ""
        added = c.before == nil; removed = c.after == nil
    }
    init(path: String, before: String, after: String, added: Bool, removed: Bool) {
        self.path = path; self.before = before; self.after = after; self.added = added; self.removed = removed
    }
    static let example = ChangeRow(path: "take_action.deadline", before: "2026-12-10", after: "2026-12-14", added: true, removed: true)
}

/// `/newsroom/drafts/{id}`: one item being written — its form, where it stands, the steps the
/// account may take, its revisions and history, who else has it open, and its preview links.
struct NewsroomDraftPage: TemplateModel {
    struct StepButton: Encodable, Sendable {
        var step: String
        var label: String
        var help: String
        /// The comment is required (asking for changes, publishing without review, a correction).
        var commentRequired: Bool
        var schedule: Bool
        var danger: Bool
    }

    struct Revision: Encodable, Sendable {
        var number: String
        var author: String
        var at: Moment
        var comment: String
        var current: Bool
        var published: Bool
        /// Compared with the revision before it; empty for the first.
        var compareHref: String
    }

    struct Event: Encodable, Sendable {
        var at: Moment
        var actor: String
        var action: String
        var from: String
        var to: String
        var revision: String
        var comment: String
    }

    struct PreviewLink: Encodable, Sendable {
        var label: String
        var expires: Moment
        var views: String
        var lastView: Moment?
        var active: Bool
        var revoke: String
    }

    var title: String
    var kind: String
    var state: String
    var stateKey: String
    var emergency: Bool
    var facts: [Fact]
    var errors: [String]
    var notice: String?
    /// The names of others who showed this item in the last minutes.
    var others: String
    /// A save refused because the item changed: what changed since the copy, and what was typed is still in the form.
    var stale: [ChangeRow]
    var staleText: String
    var saveAction: String
    var stepAction: String
    var restoreAction: String
    var previewLinkAction: String
    var baseRevision: String
    var comment: String
    var form: EditForm.View
    /// Locked fields of a document (they say which document it is), shown, not edited.
    var locked: [Fact]
    var steps: [StepButton]
    /// The reader's time zone (theirs, else the organisation's `VIGIL_TIME_ZONE`), the default of a schedule's zone.
    var zone: String
    var scheduledAt: String
    var revisions: [Revision]
    var events: [Event]
    var publisher: Bool
    var previewLinks: [PreviewLink]
    /// A new preview link, shown once.
    var newPreviewURL: String?
    /// A translation whose original changed after it was made.
    var outdated: Bool
    var outdatedHref: String
    var publicHref: String?

    static let example = NewsroomDraftPage(
        title: "Lawyer held for defending detainees", kind: "Urgent Action",
        state: "In review", stateKey: "in_review", emergency: true,
        facts: [Fact(label: "Number", value: "UA 12/26")], errors: ["Someone saved this item since you opened it."],
        notice: "Saved as revision 3.", others: "Ana", stale: [.example], staleText: "Revision 3 was saved by Ana.",
        saveAction: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60",
        stepAction: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/step",
        restoreAction: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/restore",
        previewLinkAction: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/preview-links",
        baseRevision: "3", comment: "Fixed the hearing date", form: .example,
        locked: [Fact(label: "Language", value: "en")],
        steps: [StepButton(step: "submit", label: "Submit for review", help: "A publisher reviews it.", commentRequired: true, schedule: true, danger: true)],
        zone: "Europe/London", scheduledAt: "3 December 2026, 09:00 (Europe/London)",
        revisions: [Revision(number: "3", author: "Ana", at: .example, comment: "Fixed the date", current: true, published: true,
                             compareHref: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/compare?a=2&b=3"),
                    Revision(number: "2", author: "Ben", at: .example, comment: "First full text", current: false, published: false,
                             compareHref: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/compare?a=1&b=2")],
        events: [Event(at: .example, actor: "Ana", action: "Submitted for review", from: "Draft", to: "In review",
                       revision: "3", comment: "Ready")],
        publisher: true,
        previewLinks: [PreviewLink(label: "Our lawyer", expires: .example, views: "2", lastView: .example, active: true,
                                   revoke: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/preview-links/5c1d/revoke")],
        newPreviewURL: "https://ua.example.org/preview/abc", outdated: true,
        outdatedHref: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/compare?a=1&b=2", publicHref: "/urgent-actions/12-26/initial")
}

/// `/newsroom/drafts`: the items being written, by state, and the forms that start new ones.
struct NewsroomDraftsPage: TemplateModel {
    struct Item: Encodable, Sendable {
        var href: String
        var title: String
        var kind: String
        var state: String
        var stateKey: String
        var updated: Moment
        var number: String
    }
    struct Choice: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }
    var items: [Item]
    var states: [Choice]
    /// "Page 2", with the pages before and after (100 items a page, newest change first).
    var pagination: ListPage.Pagination?
    var createAction: String
    var openAction: String
    var cases: [Choice]
    var errors: [String]

    static let example = NewsroomDraftsPage(
        items: [Item(href: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60", title: "Lawyer held", kind: "Urgent Action",
                     state: "Draft", stateKey: "draft", updated: .example, number: "UA 12/26")],
        states: [Choice(value: "draft", label: "Draft", selected: true)],
        pagination: ListPage.Pagination(label: "Page 2", prev: "/newsroom/drafts?state=draft", next: "/newsroom/drafts?state=draft&page=3"),
        createAction: "/newsroom/drafts", openAction: "/newsroom/edit",
        cases: [Choice(value: "ru-2019-kuku", label: "Emir-Usein Kuku", selected: false)], errors: ["Choose a case."])
}

/// `/newsroom/drafts/{id}/compare`: two revisions side by side, field by field.
struct NewsroomComparePage: TemplateModel {
    struct Choice: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }
    var title: String
    var backHref: String
    var action: String
    var a: [Choice]
    var b: [Choice]
    var aLabel: String
    var bLabel: String
    var changes: [ChangeRow]

    static let example = NewsroomComparePage(
        title: "Lawyer held", backHref: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60",
        action: "/newsroom/drafts/7b0c3f8e-1f7e-4a59-9d1e-1c2b3d4e5f60/compare",
        a: [Choice(value: "1", label: "Revision 1", selected: true)], b: [Choice(value: "2", label: "Revision 2", selected: true)],
        aLabel: "Revision 1 (Ana)", bLabel: "Revision 2 (Ben)", changes: [.example])
}

/// `/preview/{token}`: one item as a reviewer without an account sees it.
struct DraftPreviewPage: TemplateModel {
    struct Section: Encodable, Sendable {
        var heading: String
        var html: TrustedHTML
    }
    var title: String
    var kind: String
    var language: String
    var revision: String
    var expires: Moment
    var sections: [Section]

    static let example = DraftPreviewPage(title: "Lawyer held", kind: "Urgent Action", language: "en", revision: "3",
                                          expires: .example,
                                          sections: [Section(heading: "Body", html: HTML.markdown("**Free** them."))])
}
