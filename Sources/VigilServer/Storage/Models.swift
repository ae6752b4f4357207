import Fluent
import Foundation

// Fluent models: one table each. They never leave the server as JSON; the API and the
// interchange format speak VigilCore values, converted in `Store`.
// Value objects inside an entity (address lines, salutations, sentences, copies-to) are
// kept as JSON text so that SQLite and PostgreSQL store them the same way.

final class TargetModel: Model, @unchecked Sendable {
    static let schema = "targets"
    @ID(custom: "id", generatedBy: .user) var id: String?
    @Field(key: "title") var title: String
    @OptionalField(key: "name") var name: String?
    @OptionalField(key: "organisation") var organisation: String?
    @Field(key: "address_json") var addressJSON: String
    @OptionalField(key: "country") var country: String?
    @OptionalField(key: "email") var email: String?
    @OptionalField(key: "fax") var fax: String?
    @OptionalField(key: "phone") var phone: String?
    @Field(key: "social_json") var socialJSON: String
    @OptionalField(key: "web_form") var webForm: String?
    @Field(key: "salutation_json") var salutationJSON: String
    @Field(key: "languages_json") var languagesJSON: String
    @OptionalField(key: "valid_from") var validFrom: String?
    @OptionalField(key: "valid_to") var validTo: String?
    @OptionalField(key: "channel_notes") var channelNotes: String?
    /// Whom this official replaced in office (`AddTargetSuccessionsAndMissions`).
    @OptionalField(key: "successor_of") var successorOf: String?
    /// A diplomatic mission: the country it represents and the one it is accredited to.
    @OptionalField(key: "represents") var represents: String?
    @OptionalField(key: "accredited_to") var accreditedTo: String?
    @Field(key: "content_hash") var contentHash: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}
}

final class CaseModel: Model, @unchecked Sendable {
    static let schema = "cases"
    @ID(custom: "id", generatedBy: .user) var id: String?
    @Field(key: "title") var title: String
    @OptionalField(key: "summary") var summary: String?
    @OptionalField(key: "region") var region: String?
    @Field(key: "status") var status: String
    @Field(key: "content_hash") var contentHash: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}
}

final class CaseCountryModel: Model, @unchecked Sendable {
    static let schema = "case_countries"
    @ID(key: .id) var id: UUID?
    @Field(key: "case_id") var caseID: String
    @Field(key: "position") var position: Int
    @Field(key: "country") var country: String
    init() {}
    init(caseID: String, position: Int, country: String) {
        self.caseID = caseID; self.position = position; self.country = country
    }
}

final class CaseThemeModel: Model, @unchecked Sendable {
    static let schema = "case_themes"
    @ID(key: .id) var id: UUID?
    @Field(key: "case_id") var caseID: String
    @Field(key: "position") var position: Int
    @Field(key: "theme") var theme: String
    init() {}
    init(caseID: String, position: Int, theme: String) {
        self.caseID = caseID; self.position = position; self.theme = theme
    }
}

final class PersonModel: Model, @unchecked Sendable {
    static let schema = "people"
    @ID(custom: "id", generatedBy: .user) var id: String?
    @Field(key: "case_id") var caseID: String
    @Field(key: "position") var position: Int
    @Field(key: "name") var name: String
    /// The name in its own script, and that script's language tag (both or neither).
    @OptionalField(key: "name_original") var nameOriginal: String?
    @OptionalField(key: "name_original_language") var nameOriginalLanguage: String?
    @OptionalField(key: "pronouns") var pronouns: String?
    @OptionalField(key: "role") var role: String?
    @Field(key: "status") var status: String
    @Field(key: "charges_json") var chargesJSON: String
    @Field(key: "sentences_json") var sentencesJSON: String
    init() {}
}

final class TimelineEventModel: Model, @unchecked Sendable {
    static let schema = "timeline_events"
    @ID(key: .id) var id: UUID?
    @Field(key: "case_id") var caseID: String
    @Field(key: "position") var position: Int
    @Field(key: "date") var date: String
    @Field(key: "date_sort") var dateSort: String
    @Field(key: "kind") var kind: String
    @Field(key: "people_json") var peopleJSON: String
    @Field(key: "summary") var summary: String
    @OptionalField(key: "source") var source: String?
    init() {}
}

final class UrgentActionModel: Model, @unchecked Sendable {
    static let schema = "urgent_actions"
    /// The URL form of the number, `126-19`.
    @ID(custom: "id", generatedBy: .user) var id: String?
    @Field(key: "number") var number: String
    @Field(key: "case_id") var caseID: String
    @Field(key: "status") var status: String
    /// The deadline in force (`UrgentAction.deadline(of:)`), as written: `2019-11-14`, `2019-11`.
    @OptionalField(key: "deadline") var deadline: String?
    /// Its last day, `YYYY-MM-DD`: the action can be acted on while this is today or later.
    @OptionalField(key: "deadline_last") var deadlineLast: String?
    /// `YYSSSSS`, for ordering by year then serial.
    @Field(key: "sort_key") var sortKey: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    /// Set while the action is withdrawn for safety (`Withdrawal`): hidden from every public read.
    @OptionalField(key: "withdrawn_at") var withdrawnAt: Date?
    /// Why, for the newsroom only: never shown publicly, never in the audit log.
    @OptionalField(key: "withdrawn_reason") var withdrawnReason: String?
    init() {}
}

final class DocumentModel: Model, @unchecked Sendable {
    static let schema = "documents"
    @ID(custom: "id", generatedBy: .user) var id: String?
    @Field(key: "urgent_action_id") var urgentActionID: String
    @Field(key: "sequence") var sequence: Int
    @Field(key: "kind") var kind: String
    @OptionalField(key: "outcome") var outcome: String?
    @Field(key: "no_further_action") var noFurtherAction: Bool
    @Field(key: "language") var language: String
    @OptionalField(key: "translation_of") var translationOf: String?
    @OptionalField(key: "ai_index") var aiIndex: String?
    @Field(key: "published") var published: String
    @Field(key: "title") var title: String
    @OptionalField(key: "summary") var summary: String?
    @Field(key: "body") var body: String
    @Field(key: "has_take_action") var hasTakeAction: Bool
    @OptionalField(key: "deadline") var deadline: String?
    @Field(key: "preferred_languages_json") var preferredLanguagesJSON: String
    @Field(key: "copies_to_json") var copiesToJSON: String
    @OptionalField(key: "letter") var letter: String?
    @OptionalField(key: "other_channels") var otherChannels: String?
    @OptionalField(key: "additional_information") var additionalInformation: String?
    @OptionalField(key: "quote_text") var quoteText: String?
    @OptionalField(key: "quote_by") var quoteBy: String?
    /// `[{"date": "YYYY-MM-DD", "note": "…"}]`, oldest first; "[]" for none.
    @Field(key: "corrections_json") var correctionsJSON: String
    @Field(key: "content_hash") var contentHash: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}
}

final class DocumentTargetModel: Model, @unchecked Sendable {
    static let schema = "document_targets"
    @ID(key: .id) var id: UUID?
    @Field(key: "document_id") var documentID: String
    @Field(key: "target_id") var targetID: String
    @Field(key: "position") var position: Int
    init() {}
    init(documentID: String, targetID: String, position: Int) {
        self.documentID = documentID; self.targetID = targetID; self.position = position
    }
}

final class SupporterModel: Model, @unchecked Sendable {
    static let schema = "supporters"
    @ID(key: .id) var id: UUID?
    @Field(key: "email") var email: String
    @Field(key: "display_name") var displayName: String
    @OptionalField(key: "country") var country: String?
    @Field(key: "language") var language: String
    @OptionalField(key: "password_hash") var passwordHash: String?
    @OptionalField(key: "email_verified_at") var emailVerifiedAt: Date?
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    @OptionalField(key: "last_digest_at") var lastDigestAt: Date?
    /// "supporter", or the newsroom roles the account holds, space-separated ("editor publisher"):
    /// read and set through `roles` (Newsroom/Access.swift). Newsroom sessions are short.
    @Field(key: "role") var role: String
    /// The TOTP secret, sealed with the server secret (`SecondFactor.seal`); nil until enrolled.
    @OptionalField(key: "totp_secret") var totpSecret: String?
    @OptionalField(key: "totp_enrolled_at") var totpEnrolledAt: Date?
    /// The last 30-second step whose code was accepted: a code is never accepted twice.
    @OptionalField(key: "totp_last_step") var totpLastStep: Int64?
    /// The IANA zone a newsroom account sees times in; nil: the organisation's (`AddAccountTimeZone`).
    @OptionalField(key: "time_zone") var timeZone: String?
    init() {}
}

final class APITokenModel: Model, @unchecked Sendable {
    static let schema = "api_tokens"
    @ID(key: .id) var id: UUID?
    /// SHA-256 of the token; the token itself is shown once and never stored.
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "role") var role: String
    @OptionalField(key: "label") var label: String?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    /// The editor who made it on the web; nil for tokens made with `vigil token create`.
    @OptionalField(key: "created_by") var createdBy: UUID?
    /// What the token may do: "read", "write" (cases, documents, targets) or "import" (bundles too).
    @Field(key: "scope") var scope: String
    /// After this the token no longer works; nil only for tokens made before expiry existed.
    @OptionalField(key: "expires_at") var expiresAt: Date?
    init() {}
}

final class ActionReportModel: Model, @unchecked Sendable {
    static let schema = "action_reports"
    @ID(key: .id) var id: UUID?
    @Field(key: "document_id") var documentID: String
    @OptionalField(key: "target_id") var targetID: String?
    @Field(key: "channel") var channel: String
    @Field(key: "idempotency_key") var idempotencyKey: String
    @OptionalField(key: "supporter_id") var supporterID: UUID?
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

final class FollowModel: Model, @unchecked Sendable {
    static let schema = "follows"
    @ID(key: .id) var id: UUID?
    @Field(key: "supporter_id") var supporterID: UUID
    @Field(key: "subject_kind") var subjectKind: String
    @Field(key: "subject_value") var subjectValue: String
    @Field(key: "created_at") var createdAt: Date
    /// Weekly digest instead of an e-mail per update.
    @Field(key: "digest") var digest: Bool
    /// The language of this follow's alerts; nil: the supporter's language.
    @OptionalField(key: "language") var language: String?
    /// The consent: what was agreed, under which privacy notice, when (nil for older follows).
    @OptionalField(key: "consent_text") var consentText: String?
    @OptionalField(key: "consent_version") var consentVersion: String?
    @OptionalField(key: "consent_at") var consentAt: Date?
    init() {}
}

final class ReplyModel: Model, @unchecked Sendable {
    static let schema = "replies"
    @ID(key: .id) var id: UUID?
    @Field(key: "urgent_action_id") var urgentActionID: String
    @OptionalField(key: "target_id") var targetID: String?
    @Field(key: "received") var received: String
    @Field(key: "summary") var summary: String
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

/// A follow of a case by an e-mail address alone (no account). Active once `confirmedAt` is set.
final class EmailFollowModel: Model, @unchecked Sendable {
    static let schema = "email_follows"
    @ID(key: .id) var id: UUID?
    @Field(key: "email") var email: String
    @Field(key: "case_id") var caseID: String
    @Field(key: "language") var language: String
    /// What was agreed (the words shown), under which privacy notice (`PrivacyNotice.version`), when.
    @Field(key: "consent_text") var consentText: String
    @Field(key: "consent_version") var consentVersion: String
    @Field(key: "consent_at") var consentAt: Date
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "confirmed_at") var confirmedAt: Date?
    /// SHA-256 of the pending confirmation link's token; nil once confirmed.
    @OptionalField(key: "token_hash") var tokenHash: String?
    @OptionalField(key: "token_expires_at") var tokenExpiresAt: Date?
    init() {}
}
