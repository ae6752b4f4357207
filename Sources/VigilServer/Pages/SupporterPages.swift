import Foundation

/// The pages of supporters, editors and errors — never cached, rendered through `PrivatePage`
/// (the error page and the development outbox directly) — and the model each template is
/// checked against at start, beside the site's pages (`Pages.site`).
enum SupporterPages {
    static let all: [(template: String, model: any TemplateModel.Type)] = [
        ("signup", Page<SignupPage>.self),
        ("login", Page<LoginPage>.self),
        ("account", Page<AccountPage>.self),
        ("account-message", Page<MessagePage>.self),
        ("password-reset", Page<PasswordResetPage>.self),
        ("password-new", Page<PasswordNewPage>.self),
        ("confirm", Page<ConfirmPage>.self),
        ("privacy", Page<PrivacyPage>.self),
        ("account-delete", Page<AccountDeletePage>.self),
        ("follow", Page<FollowPage>.self),
        ("follow-data", Page<FollowDataPage>.self),
        ("unsubscribe", Page<UnsubscribePage>.self),
        ("report", Page<ReportPage>.self),
        ("editor", Page<EditorPage>.self),
        ("editor-token", Page<EditorTokenPage>.self),
        ("newsroom", Page<NewsroomHomePage>.self),
        ("second-factor", Page<SecondFactorPage>.self),
        ("login-code", Page<LoginCodePage>.self),
        ("newsroom-accounts", Page<NewsroomAccountsPage>.self),
        ("newsroom-audit", Page<NewsroomAuditPage>.self),
        ("newsroom-urgent-actions", Page<NewsroomUrgentActionsPage>.self),
        ("newsroom-urgent-action", Page<NewsroomUrgentActionPage>.self),
        ("newsroom-drafts", Page<NewsroomDraftsPage>.self),
        ("newsroom-draft", Page<NewsroomDraftPage>.self),
        ("newsroom-compare", Page<NewsroomComparePage>.self),
        ("draft-preview", Page<DraftPreviewPage>.self),
        ("dev-outbox", Page<DevOutboxPage>.self),
        ("error", Page<ErrorPage>.self),
    ]
}
