#!/usr/bin/env python3
"""Writes Resources/Data/demo.json, the demo bundle that ships with Vigil.

UA 126/19 follows public reporting on a real case, retold in our own words. The other cases
are fictional and say so. Every postal address and e-mail address is an example, not a real
office's: check the official's current details before writing.
"""
import json, pathlib

EX = "[Example address - check before sending]"

targets = [
    {"id": "ru-prosecutor-general", "title": "Prosecutor General", "organisation": "Prosecutor General's Office of the Russian Federation",
     "address": [EX, "Moscow", "Russian Federation"], "country": "RU", "email": "prosecutor-general@example.org",
     "salutation": {"en": "Dear Prosecutor General", "ru": "Уважаемый господин Генеральный прокурор"},
     "languages": ["ru"], "channel_notes": "Demo data: address and e-mail are examples."},
    {"id": "ru-supreme-court-chair", "title": "Chairperson of the Supreme Court", "organisation": "Supreme Court of the Russian Federation",
     "address": [EX, "Moscow", "Russian Federation"], "country": "RU", "fax": "+7 000 000 00 00",
     "salutation": {"en": "Dear Chairperson", "ru": "Уважаемый Председатель Верховного суда"},
     "languages": ["ru", "en"], "channel_notes": "Demo data: address and fax number are examples."},
    {"id": "ru-embassy-example", "title": "Ambassador", "organisation": "Embassy of the Russian Federation (example)",
     "address": [EX, "London", "United Kingdom"], "country": "RU", "email": "embassy@example.org",
     "salutation": {"en": "Your Excellency"}, "languages": ["en"], "channel_notes": "Demo data.",
     "represents": "RU", "accredited_to": "GB"},
    {"id": "ru-embassy-example-de", "title": "Ambassador", "organisation": "Embassy of the Russian Federation in Germany (example)",
     "address": [EX, "Berlin", "Germany"], "country": "RU", "email": "embassy-de@example.org",
     "salutation": {"de": "Exzellenz", "en": "Your Excellency"}, "languages": ["de", "en"], "channel_notes": "Demo data.",
     "represents": "RU", "accredited_to": "DE"},
    {"id": "eg-public-prosecutor", "title": "Public Prosecutor", "organisation": "Office of the Public Prosecutor (example)",
     "address": [EX, "Cairo", "Egypt"], "country": "EG", "email": "prosecutor@example.org",
     "social": {"twitter": "@example_ppo"},
     "salutation": {"en": "Dear Counsellor", "ar": "سيادة المستشار النائب العام"}, "languages": ["ar", "en"],
     "channel_notes": "Demo data: a fictional office and example channels."},
    {"id": "cn-provincial-procurator", "title": "Chief Procurator", "organisation": "Provincial People's Procuratorate (example)",
     "address": [EX, "Guangzhou", "People's Republic of China"], "country": "CN", "fax": "+86 00 0000 0000",
     "salutation": {"en": "Dear Chief Procurator", "zh-Hans": "尊敬的检察长"}, "languages": ["zh-Hans"],
     "channel_notes": "Demo data: a fictional office and example channels."},
    {"id": "ni-attorney-general", "title": "Attorney General", "organisation": "Office of the Attorney General (example)",
     "address": [EX, "Managua", "Nicaragua"], "country": "NI", "email": "fiscal@example.org",
     "web_form": "https://example.org/contact",
     "salutation": {"en": "Dear Attorney General", "es": "Estimada Fiscal General"}, "languages": ["es"],
     "channel_notes": "Demo data: a fictional office and example channels."},
]

six = [("emir-usein-kuku", "Emir-Usein Kuku", 12, "Human rights defender"),
       ("muslim-aliyev", "Muslim Aliyev", 19, None),
       ("enver-bekirov", "Enver Bekirov", 18, None),
       ("vadim-siruk", "Vadim Siruk", 12, None),
       ("refat-alimov", "Refat Alimov", 8, None),
       ("arsen-dzhepparov", "Arsen Dzhepparov", 7, None)]
court1 = "Southern District Military Court, Rostov-on-Don"
court2 = "Military Court of Appeals"
people = []
for pid, name, years, role in six:
    p = {"id": pid, "name": name, "pronouns": "he/him", "role": role or "Crimean Tatar activist",
         "status": "imprisoned", "charges": ["Membership of an organisation banned as 'terrorist' in Russia"],
         "sentences": [{"years": years, "months": 0, "court": court1, "date": "2019-11-12", "stage": "first-instance"},
                       {"years": years, "months": 0, "court": court2, "date": "2020-06-25", "stage": "appeal"}]}
    people.append(p)

sentences_md = "\n".join(f"- **{n}**: {y} years" for _, n, y, _ in sorted(six, key=lambda x: -x[2]))
letter_en = """Dear Prosecutor General,

I am writing to express my deep concern for Emir-Usein Kuku, Muslim Aliyev, Enver Bekirov, Vadim Siruk, Refat Alimov and Arsen Dzhepparov, six Crimean Tatar men on trial before the Southern District Military Court on "terrorism"-related charges for their peaceful activism.

They have been held since 2016 on charges that appear to be based solely on their alleged membership of a religious organisation that is legal in Ukraine, and on their peaceful human rights work.

I urge you to drop the charges and release them immediately and unconditionally, and, pending their release, to ensure they have regular access to their families, to lawyers of their choice and to any medical care they need.

Yours sincerely,"""

letter_ru = """Уважаемый господин Генеральный прокурор!

Я глубоко обеспокоен(а) судьбой Эмир-Усеина Куку, Муслима Алиева, Энвера Бекирова, Вадима Сирука, Рефата Алимова и Арсена Джеппарова — шести крымских татар, которых судят по обвинениям, связанным с «терроризмом», за их мирную деятельность.

Призываю вас снять с них обвинения и немедленно и безоговорочно освободить их.

С уважением,"""

crimea = {
    "id": "crimean-tatar-defenders-kuku",
    "title": "Emir-Usein Kuku and five co-defendants",
    "summary": "Six Crimean Tatar men, among them the human rights defender Emir-Usein Kuku, were arrested in Crimea in 2016 and tried in Russia on terrorism-related charges for their peaceful activism.",
    "countries": ["RU", "UA"], "region": "Crimea",
    "themes": ["prisoners-of-conscience", "human-rights-defenders", "unfair-trials"],
    "status": "open",
    "people": people,
    "timeline": [
        {"date": "2016", "kind": "arrest", "people": [p[0] for p in six], "summary": "The six men are detained in Crimea in a series of raids."},
        {"date": "2019-11-12", "kind": "verdict", "people": [p[0] for p in six], "summary": "The Southern District Military Court in Rostov-on-Don sentences the six men to between 7 and 19 years in prison."},
        {"date": "2020-06-25", "kind": "appeal", "people": [], "summary": "The Military Court of Appeals upholds the convictions."},
        {"date": "2021", "kind": "trial", "people": ["emir-usein-kuku"], "summary": "A hearing before the Supreme Court follows; the case stays open."},
    ],
    "urgent_actions": [{
        "number": "126/19", "status": "closed",
        "documents": [
            {"id": "ua-126-19-0-en", "sequence": 0, "kind": "initial", "language": "en",
             "ai_index": "EUR 46/1098/2019", "published": "2019-10-03",
             "title": "Crimean Tatar human rights defender and five others on trial",
             "summary": "Emir-Usein Kuku and five other Crimean Tatar men face long prison terms on fabricated terrorism-related charges. A verdict is expected within weeks.",
             "body": "Emir-Usein Kuku, a human rights defender, and five other Crimean Tatar men — Muslim Aliyev, Enver Bekirov, Vadim Siruk, Refat Alimov and Arsen Dzhepparov — were arrested in Crimea in 2016. They are on trial before the Southern District Military Court in Rostov-on-Don, Russia, accused of belonging to an organisation that Russia bans as \"terrorist\" but that is legal in Ukraine.\n\nWe consider them prisoners of conscience, held solely for peacefully exercising their rights to freedom of expression, association and religion.",
             "take_action": {"deadline": "2019-11-14", "preferred_languages": ["ru", "en"],
                             "targets": [{"target": "ru-prosecutor-general"}],
                             "copies_to": [{"text": "Diplomatic representatives of the Russian Federation accredited to your country", "diplomatic_representatives_of": "RU"}],
                             "letter": letter_en},
             "additional_information": "Since Russia's occupation and purported annexation of Crimea in 2014, the authorities there have targeted Crimean Tatars who speak out, including members of the civic initiative Crimean Solidarity, which supports the families of those detained.\n\nDefendants in these cases are tried in military courts in Russia, far from their families."},
            {"id": "ua-126-19-0-ru", "sequence": 0, "kind": "initial", "language": "ru", "translation_of": "ua-126-19-0-en",
             "published": "2019-10-03",
             "title": "Суд над крымскотатарским правозащитником и пятью другими",
             "summary": "Эмиру-Усеину Куку и пятерым другим крымским татарам грозят длительные сроки по сфабрикованным обвинениям.",
             "body": "Правозащитник Эмир-Усеин Куку и ещё пятеро крымских татар были задержаны в Крыму в 2016 году. Их судят в Южном окружном военном суде в Ростове-на-Дону.",
             "take_action": {"deadline": "2019-11-14", "preferred_languages": ["ru", "en"],
                             "targets": [{"target": "ru-prosecutor-general"}],
                             "copies_to": [{"text": "Дипломатическим представителям Российской Федерации в вашей стране", "diplomatic_representatives_of": "RU"}],
                             "letter": letter_ru}},
            {"id": "ua-126-19-1-en", "sequence": 1, "kind": "update", "language": "en",
             "ai_index": "EUR 46/1387/2019", "published": "2019-11-20",
             "title": "Six Crimean Tatar men sentenced to long prison terms",
             "summary": "On 12 November 2019 a Russian military court sentenced the six men to between 7 and 19 years in prison. They have appealed.",
             "body": "On 12 November 2019 the Southern District Military Court in Rostov-on-Don convicted all six men and sentenced them as follows:\n\n" + sentences_md + "\n\nTheir lawyers have appealed. We continue to call for their immediate and unconditional release.",
             "take_action": {"deadline": "2020-01-15", "preferred_languages": ["ru", "en"],
                             "targets": [{"target": "ru-supreme-court-chair"}, {"target": "ru-prosecutor-general"}],
                             "copies_to": [{"text": "Diplomatic representatives of the Russian Federation accredited to your country", "diplomatic_representatives_of": "RU"}],
                             "letter": "Dear Chairperson,\n\nI call on you to ensure that the convictions of Emir-Usein Kuku, Muslim Aliyev, Enver Bekirov, Vadim Siruk, Refat Alimov and Arsen Dzhepparov are quashed on appeal and that they are released immediately and unconditionally.\n\nYours sincerely,"}},
            {"id": "ua-126-19-2-en", "sequence": 2, "kind": "outcome", "outcome": "bad-news", "no_further_action": True,
             "language": "en", "ai_index": "EUR 46/2725/2020", "published": "2020-07-21",
             "title": "Conviction of prisoners of conscience upheld",
             "summary": "On 25 June 2020 the Military Court of Appeals upheld the convictions of the six Crimean Tatar men. No further action is requested. Thank you to everyone who wrote.",
             "body": "On 25 June 2020 the Military Court of Appeals upheld the convictions and sentences of Emir-Usein Kuku and his five co-defendants. They remain in prison:\n\n" + sentences_md + "\n\nThank you to everyone who sent appeals. Your letters reached the authorities and the men's families knew they were not forgotten. No further action is requested from the Urgent Action network; we will keep following the case.",
             "quote": {"text": "We are grateful to everyone who has supported us. Your letters show that the truth cannot be locked up.", "by": "Emir-Usein Kuku"}},
        ]}],
}

egypt = {
    "id": "demo-nour-hassan",
    "title": "Nour Hassan (fictional demo case)",
    "summary": "Demo data: a fictional human rights lawyer, detained after representing families of the disappeared.",
    "countries": ["EG"], "themes": ["human-rights-defenders", "arbitrary-detention"], "status": "open",
    "people": [{"id": "demo-nour-hassan-person", "name": "Nour Hassan", "pronouns": "she/her", "role": "Human rights lawyer", "status": "detained",
                "charges": ["Spreading false news"]}],
    "timeline": [{"date": "2026-09", "kind": "arrest", "people": ["demo-nour-hassan-person"], "summary": "Detained at her office (fictional)."}],
    "urgent_actions": [{"number": "77/26", "status": "open", "documents": [
        {"id": "ua-77-26-0-ar", "sequence": 0, "kind": "initial", "language": "ar", "published": "2026-10-02",
         "title": "محامية حقوقية محتجزة بسبب عملها",
         "summary": "بيانات تجريبية: احتُجزت المحامية نور حسن بعد دفاعها عن عائلات المختفين قسرًا.",
         "body": "احتُجزت نور حسن، وهي محامية في مجال حقوق الإنسان، في مكتبها في سبتمبر/أيلول 2026. وتُحتجز منذ ذلك الحين دون السماح لها بالاتصال بمحاميها أو بعائلتها.\n\nهذه حالة خيالية لأغراض العرض فقط.",
         "take_action": {"deadline": "2026-12-15", "preferred_languages": ["ar", "en"], "targets": [{"target": "eg-public-prosecutor"}],
                         "letter": "سيادة المستشار النائب العام،\n\nأحثكم على الإفراج الفوري وغير المشروط عن نور حسن.\n\nمع خالص التقدير،"}},
        {"id": "ua-77-26-0-en", "sequence": 0, "kind": "initial", "language": "en", "translation_of": "ua-77-26-0-ar", "published": "2026-10-02",
         "title": "Human rights lawyer detained for her work",
         "summary": "Demo data: lawyer Nour Hassan was detained after representing families of the forcibly disappeared.",
         "body": "Nour Hassan, a human rights lawyer, was detained at her office in September 2026. She has been held without access to her lawyer or family since.\n\nThis is a fictional case for demonstration only.",
         "take_action": {"deadline": "2026-12-15", "preferred_languages": ["ar", "en"], "targets": [{"target": "eg-public-prosecutor"}],
                         "letter": "Dear Counsellor,\n\nI urge you to release Nour Hassan immediately and unconditionally.\n\nYours sincerely,"}},
    ]}],
}

china = {
    "id": "demo-li-wei",
    "title": "Li Wei (fictional demo case)",
    "summary": "Demo data: a fictional labour rights activist held incommunicado.",
    "countries": ["CN"], "region": "Guangdong", "themes": ["labour-rights", "arbitrary-detention"], "status": "open",
    "people": [{"id": "demo-li-wei-person", "name": "Li Wei (李伟)", "pronouns": "he/him", "role": "Labour rights activist", "status": "detained"}],
    "timeline": [{"date": "2026-08-14", "kind": "arrest", "people": ["demo-li-wei-person"], "summary": "Taken from his home by police (fictional)."}],
    "urgent_actions": [{"number": "88/26", "status": "open", "documents": [
        {"id": "ua-88-26-0-zh", "sequence": 0, "kind": "initial", "language": "zh-Hans", "published": "2026-09-01",
         "title": "劳工权利活动人士被单独关押",
         "summary": "演示数据：劳工权利活动人士李伟被警方带走，至今下落不明。",
         "body": "李伟是一名劳工权利活动人士，于2026年8月14日被警方从家中带走。他的家人至今未获告知他被关押的地点。\n\n这是一个用于演示的虚构案例。",
         "take_action": {"deadline": "2026-12-31", "preferred_languages": ["zh-Hans", "en"], "targets": [{"target": "cn-provincial-procurator"}],
                         "letter": "尊敬的检察长：\n\n我呼吁您立即无条件释放李伟。\n\n此致\n敬礼"}},
        {"id": "ua-88-26-0-en", "sequence": 0, "kind": "initial", "language": "en", "translation_of": "ua-88-26-0-zh", "published": "2026-09-01",
         "title": "Labour rights activist held incommunicado",
         "summary": "Demo data: labour rights activist Li Wei was taken by police and his whereabouts are unknown.",
         "body": "Li Wei, a labour rights activist, was taken from his home by police on 14 August 2026. His family has not been told where he is held.\n\nThis is a fictional case for demonstration only.",
         "take_action": {"deadline": "2026-12-31", "preferred_languages": ["zh-Hans", "en"], "targets": [{"target": "cn-provincial-procurator"}],
                         "letter": "Dear Chief Procurator,\n\nI call on you to release Li Wei immediately and unconditionally.\n\nYours sincerely,"}},
    ]}],
}

nicaragua = {
    "id": "demo-ana-morales",
    "title": "Ana Morales (fictional demo case)",
    "summary": "Demo data: a fictional community journalist, released after a campaign.",
    "countries": ["NI"], "themes": ["freedom-of-expression", "prisoners-of-conscience"], "status": "closed",
    "people": [{"id": "demo-ana-morales-person", "name": "Ana Morales", "pronouns": "she/her", "role": "Community journalist", "status": "released",
                "sentences": [{"years": 4, "months": 6, "court": "Criminal District Court (fictional)", "date": "2025-03", "stage": "first-instance"}]}],
    "timeline": [
        {"date": "2025-01-20", "kind": "arrest", "people": ["demo-ana-morales-person"], "summary": "Arrested after a radio broadcast (fictional)."},
        {"date": "2025-03", "kind": "verdict", "people": ["demo-ana-morales-person"], "summary": "Sentenced to four years and six months (fictional)."},
        {"date": "2025-11-05", "kind": "release", "people": ["demo-ana-morales-person"], "summary": "Released and reunited with her family (fictional)."}],
    "urgent_actions": [{"number": "12/25", "status": "closed", "documents": [
        {"id": "ua-12-25-0-es", "sequence": 0, "kind": "initial", "language": "es", "published": "2025-02-03",
         "title": "Periodista comunitaria detenida por informar",
         "summary": "Datos de demostración: la periodista Ana Morales fue detenida tras una emisión de radio.",
         "body": "Ana Morales, periodista de una radio comunitaria, fue detenida el 20 de enero de 2025.\n\nEste es un caso ficticio de demostración.",
         "take_action": {"deadline": "2025-03-17", "preferred_languages": ["es"], "targets": [{"target": "ni-attorney-general"}],
                         "letter": "Estimada Fiscal General:\n\nLe pido que libere a Ana Morales de inmediato y sin condiciones.\n\nAtentamente,"}},
        {"id": "ua-12-25-1-en", "sequence": 1, "kind": "outcome", "outcome": "good-news", "no_further_action": True, "language": "en",
         "published": "2025-11-12", "title": "Community journalist released",
         "summary": "Demo data: Ana Morales was released on 5 November 2025. Thank you to everyone who took action.",
         "body": "Ana Morales was released on 5 November 2025 and is back with her family. No further action is requested.\n\nThis is a fictional case for demonstration only.",
         "quote": {"text": "Knowing that people around the world were writing for me gave me strength.", "by": "Ana Morales"}},
        {"id": "ua-12-25-1-es", "sequence": 1, "kind": "outcome", "outcome": "good-news", "no_further_action": True, "language": "es",
         "translation_of": "ua-12-25-1-en", "published": "2025-11-12", "title": "Periodista comunitaria en libertad",
         "summary": "Datos de demostración: Ana Morales quedó en libertad el 5 de noviembre de 2025. Gracias a todas las personas que actuaron.",
         "body": "Ana Morales quedó en libertad el 5 de noviembre de 2025. No se requieren más acciones.",
         "quote": {"text": "Saber que personas de todo el mundo me escribían me dio fuerza.", "by": "Ana Morales"}},
    ]}],
}

bundle = {"format": "vigil.bundle/1", "targets": targets, "cases": [crimea, egypt, china, nicaragua]}
out = pathlib.Path(__file__).resolve().parent.parent / "Resources/Data/demo.json"
out.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
print(f"wrote {out}")
