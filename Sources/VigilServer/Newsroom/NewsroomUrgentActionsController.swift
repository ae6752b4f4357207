import Fluent
import Foundation
import Vapor
import VigilCore

/// `/newsroom/urgent-actions`: the newsroom's view of the urgent actions (every newsroom role)
/// and the publisher's forms that withdraw an action for safety, redact it while it is down and
/// republish it. The forms write through the one publishing path (`Publisher`, `Withdrawal`):
/// the publishing log, the audit log (naming the account) and the page cache follow as for the
/// API and `vigil withdraw|redact|republish`.
struct NewsroomUrgentActionsController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.newsroomUrgentActions, use: list)
        r.on(.newsroomUrgentAction, use: item)
        r.on(.withdrawUrgentAction, use: withdraw)
        r.on(.republishUrgentAction, use: republish)
        r.on(.redactUrgentAction, use: redact)
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }
    var today: String { ActionClock.current.today() }

    // MARK: Reading

    func list(req: Request) async throws -> Response {
        try await NewsroomAccess.require(req)
        let typed = String((req.endpoint.query["number"] ?? "").prefix(40))
        if !typed.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let number = NewsroomUrgentActionsPage.parse(typed) else {
                return try await renderList(req, status: .badRequest, errors: [strings["newsroom_ua_bad_number"]], number: typed)
            }
            guard try await UrgentActionModel.find(number.slug, on: req.db) != nil else {
                return try await renderList(req, status: .notFound, errors: [unknown(number)], number: typed)
            }
            return req.redirect(to: Endpoint.newsroomUrgentAction(number).path, redirectType: .normal)
        }
        return try await renderList(req)
    }

    func renderList(_ req: Request, status: HTTPStatus = .ok, errors: [String] = [], number: String = "") async throws -> Response {
        let page = try await NewsroomUrgentActionsPage.load(on: req.db, strings: strings, today: today, errors: errors, number: number, zone: req.newsroomZone)
        return try pages.render(req, "newsroom-urgent-actions", title: strings["newsroom_ua_title"], status: status, content: page)
    }

    func item(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req)
        return try await render(req, me, try number(req))
    }

    /// The action's page, for `me`: the forms only for a publisher.
    func render(_ req: Request, _ me: CurrentSession, _ number: UANumber, status: HTTPStatus = .ok, errors: [String] = [],
                notice: String? = nil, typed: NewsroomUrgentActionPage.Typed = .init()) async throws -> Response {
        guard let page = try await NewsroomUrgentActionPage.load(number, publisher: me.supporter.roles.contains(.publisher),
                                                                 writer: !me.supporter.roles.isDisjoint(with: [.editor, .publisher]),
                                                                 languages: services.languages.working, on: req.db,
                                                                 strings: strings, today: today, errors: errors, notice: notice, typed: typed, zone: req.newsroomZone)
        else { throw Abort(.notFound, reason: unknown(number)) }
        return try pages.render(req, "newsroom-urgent-action", title: number.label, status: status, content: page)
    }

    func number(_ req: Request) throws -> UANumber {
        guard let raw = req.endpoint[.number], let n = UANumber(slug: raw) ?? UANumber(raw) else {
            throw Abort(.notFound, reason: strings["newsroom_ua_bad_number"])
        }
        return n
    }

    func unknown(_ number: UANumber) -> String { strings.format("newsroom_ua_unknown", ["label": number.label]) }

    // MARK: Withdraw, redact, republish (publishers)

    struct Form: Content { var csrf: String?; var current: String?; var reason: String?; var from: String?; var to: String? }

    /// What every form does first: the publisher's gate, the form token, an action that exists.
    func start(_ req: Request) async throws -> (CurrentSession, Form, UANumber, UrgentActionModel) {
        let me = try await NewsroomAccess.require(req, .publisher)
        let form = try req.content.decode(Form.self)
        try auth.checkCSRF(req, token: form.csrf)
        let number = try number(req)
        guard let ua = try await UrgentActionModel.find(number.slug, on: req.db) else { throw Abort(.notFound, reason: unknown(number)) }
        return (me, form, number, ua)
    }

    /// Checks the password, publishes the change as the account, and shows the page with `notice`;
    /// a refusal of the publisher (a conflict meanwhile, bad input) is shown on the page with its status.
    func finish(_ req: Request, _ me: CurrentSession, _ number: UANumber, _ change: Publisher.Change, form: Form,
                typed: NewsroomUrgentActionPage.Typed, notice: String, conflict: String) async throws -> Response {
        guard try await passwords.reauthenticate(req, me, form.current) else {
            return try await render(req, me, number, status: .unauthorized, errors: [strings["change_wrong_password"]], typed: typed)
        }
        do {
            _ = try await publisher.publish(change, by: .editor(me.supporter.id!), on: req.db)
        } catch let refusal as PublishingRefusal {
            if refusal.status == .notFound { throw Abort(.notFound, reason: unknown(number)) }
            return try await render(req, me, number, status: refusal.status, errors: [conflict], typed: typed)
        } catch is ValidationError {
            // The checks above are the publisher's own: this is only a second line.
            return try await render(req, me, number, status: .unprocessableEntity, errors: [strings["newsroom_ua_invalid"]], typed: typed)
        }
        return try await render(req, me, number, notice: notice)
    }

    func withdraw(req: Request) async throws -> Response {
        let (me, form, number, ua) = try await start(req)
        let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let typed = NewsroomUrgentActionPage.Typed(reason: String((form.reason ?? "").prefix(Withdrawal.maxReason * 2)))
        // What is wrong with the form is said before the password is asked for (and counted).
        if reason.isEmpty {
            return try await render(req, me, number, status: .unprocessableEntity, errors: [strings["newsroom_ua_reason_required"]], typed: typed)
        }
        if reason.count > Withdrawal.maxReason {
            return try await render(req, me, number, status: .unprocessableEntity,
                                    errors: [strings.format("newsroom_ua_reason_long", ["max": String(Withdrawal.maxReason)])], typed: typed)
        }
        let conflict = strings.format("newsroom_ua_already_withdrawn", ["label": number.label])
        if ua.withdrawnAt != nil { return try await render(req, me, number, status: .conflict, errors: [conflict]) }
        return try await finish(req, me, number, .withdraw(number, reason: reason), form: form, typed: typed,
                                notice: strings.format("newsroom_ua_withdrawn_notice", ["label": number.label]), conflict: conflict)
    }

    func republish(req: Request) async throws -> Response {
        let (me, form, number, ua) = try await start(req)
        let conflict = strings.format("newsroom_ua_not_withdrawn", ["label": number.label])
        if ua.withdrawnAt == nil { return try await render(req, me, number, status: .conflict, errors: [conflict]) }
        return try await finish(req, me, number, .republish(number), form: form, typed: .init(),
                                notice: strings.format("newsroom_ua_republished_notice", ["label": number.label]), conflict: conflict)
    }

    func redact(req: Request) async throws -> Response {
        let (me, form, number, ua) = try await start(req)
        let from = form.from ?? "", to = form.to ?? NewsroomUrgentActionPage.withheld
        let typed = NewsroomUrgentActionPage.Typed(from: String(from.prefix(Withdrawal.maxRedaction * 2)),
                                                   to: String(to.prefix(Withdrawal.maxRedaction * 2)))
        var problems: [String] = []
        if from.trimmingCharacters(in: .whitespaces).isEmpty { problems.append(strings["newsroom_ua_from_required"]) }
        if from.count > Withdrawal.maxRedaction || to.count > Withdrawal.maxRedaction {
            problems.append(strings.format("newsroom_ua_redact_long", ["max": String(Withdrawal.maxRedaction)]))
        }
        if (from + to).unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { problems.append(strings["newsroom_ua_redact_line"]) }
        if !from.isEmpty, from == to { problems.append(strings["newsroom_ua_redact_same"]) }
        if !problems.isEmpty { return try await render(req, me, number, status: .unprocessableEntity, errors: problems, typed: typed) }
        let conflict = strings.format("newsroom_ua_redact_published", ["label": number.label])
        if ua.withdrawnAt == nil { return try await render(req, me, number, status: .conflict, errors: [conflict], typed: typed) }
        return try await finish(req, me, number, .redact(number, from: from, to: to), form: form, typed: typed,
                                notice: strings.format("newsroom_ua_redacted_notice", ["to": to]), conflict: conflict)
    }
}
