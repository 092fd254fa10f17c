/* prompts.c - the prompt texts, schemas and worked examples, laid out as
 * ragas lays them out (instruction, schema, examples, input) and, for
 * correctness, as LlamaIndex does (a system and a user message); and a
 * validator for the subset of JSON Schema the schemas use: object with
 * required properties, array with items, string, integer, number, boolean,
 * enum. Extra properties in a reply are ignored.
 *
 * The wording is ragrade's; the cases the examples show are ragas's (its
 * examples are part of its definitions, REFERENCE.md): the NLI prompt has
 * several verdicts of 0, one example a context unrelated to every
 * statement; answer relevancy a noncommittal response flagged 1; context
 * precision a useful context, one useful only through a step of reasoning
 * and one not useful; context recall attributed and unattributed
 * sentences; the classifier a ground-truth statement the answer covers
 * only in part, counted as FN, and an example without FP. Each example
 * exists in English and in Chinese (prompts_lang picks one set). */
#include "prompts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

#include "text.h"

#define MAX_EXAMPLES 3
#define LANG_TEXT_MAX 4096        /* bytes of the row's text read to pick the language */

struct example {
    const char *input;            /* JSON text; NULL for correctness (a reply only) */
    const char *output;           /* JSON text */
};

struct prompt {
    const char *name;
    const char *instruction;
    int lang_rule;                /* the judge writes text: add PROMPTS_LANG_RULE */
    const char *schema;           /* JSON text */
    const char *lang_keys[3];     /* input keys whose text picks the examples' language */
    struct example ex[PROMPT_LANG_N][MAX_EXAMPLES];   /* until the first NULL output */
    const char *list_key;         /* the list n_items counts, or NULL */
};

#define STR "{\"type\":\"string\"}"
#define BIT "{\"type\":\"integer\",\"enum\":[0,1]}"
#define OBJ(props, req) \
    "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]," \
    "\"additionalProperties\":false}"
#define ARR(items) "{\"type\":\"array\",\"items\":" items "}"
#define REASONED OBJ("\"statement\":" STR ",\"reason\":" STR, "\"statement\",\"reason\"")
#define RATING OBJ("\"rating\":{\"type\":\"integer\",\"enum\":[0,1,2]}", "\"rating\"")

static const struct prompt prompts[PROMPT_N] = {
    [PROMPT_STATEMENTS] = {
        "StatementGeneratorOutput",
        "Rewrite the answer to the question as a list of short statements. Split every "
        "sentence of the answer into one or more claims that can each be understood on its "
        "own: put the names that pronouns and other references stand for in their place, and "
        "keep every claim true to the answer.",
        1, OBJ("\"statements\":" ARR(STR), "\"statements\""),
        {"answer", "question", NULL},
        {
            [PROMPT_LANG_EN] = {
                {"{\"question\":\"Who was Marie Curie and what did she discover?\","
                 "\"answer\":\"She was a Polish-born physicist and chemist who did her "
                 "research in France. She discovered polonium and radium, and she was the "
                 "first person to win two Nobel Prizes.\"}",
                 "{\"statements\":[\"Marie Curie was a Polish-born physicist and chemist.\","
                 "\"Marie Curie did her research in France.\",\"Marie Curie discovered "
                 "polonium and radium.\",\"Marie Curie was the first person to win two Nobel "
                 "Prizes.\"]}"},
            },
            [PROMPT_LANG_ZH] = {
                {"{\"question\":\"鲁迅是谁？他有哪些代表作？\","
                 "\"answer\":\"他是中国现代作家和思想家，原名周树人。"
                 "他的代表作有《狂人日记》和《阿Q正传》。\"}",
                 "{\"statements\":[\"鲁迅是中国现代作家和思想家。\",\"鲁迅原名周树人。\","
                 "\"鲁迅的代表作有《狂人日记》。\",\"鲁迅的代表作有《阿Q正传》。\"]}"},
            },
        },
        NULL },
    [PROMPT_NLI] = {
        "NLIStatementOutput",
        "Judge each statement against the context alone. Give the verdict 1 when the statement "
        "can be inferred directly from the context, and 0 when it cannot: when the context "
        "contradicts it, says nothing about it, or is about something else altogether. Copy "
        "each statement word for word, give the reason for its verdict, and return one entry "
        "per statement in the order given.",
        1, OBJ("\"statements\":" ARR(OBJ("\"statement\":" STR ",\"reason\":" STR
                                         ",\"verdict\":" BIT,
                                         "\"statement\",\"reason\",\"verdict\"")),
               "\"statements\""),
        {"statements", "context", NULL},
        {
            [PROMPT_LANG_EN] = {
                {"{\"context\":\"Maria works as a nurse at the city hospital. She works "
                 "night shifts three times a week. In her free time she trains for marathons "
                 "and has run the Boston Marathon twice.\",\"statements\":[\"Maria is a "
                 "nurse.\",\"Maria works at a school.\",\"Maria is physically fit.\",\"Maria "
                 "has two children.\",\"Maria has won a marathon.\"]}",
                 "{\"statements\":[{\"statement\":\"Maria is a nurse.\",\"reason\":\"The "
                 "context says that Maria works as a nurse.\",\"verdict\":1},"
                 "{\"statement\":\"Maria works at a school.\",\"reason\":\"The context names "
                 "the city hospital as her workplace and mentions no school.\","
                 "\"verdict\":0},{\"statement\":\"Maria is physically fit.\","
                 "\"reason\":\"She trains for marathons and has run the Boston Marathon "
                 "twice, which shows fitness.\",\"verdict\":1},{\"statement\":\"Maria has "
                 "two children.\",\"reason\":\"The context says nothing about children.\","
                 "\"verdict\":0},{\"statement\":\"Maria has won a marathon.\","
                 "\"reason\":\"The context says she ran the Boston Marathon, not that she "
                 "won any race.\",\"verdict\":0}]}"},
                {"{\"context\":\"The Great Barrier Reef lies off the coast of Queensland, "
                 "Australia, and is the largest coral reef system in the world.\","
                 "\"statements\":[\"The Eiffel Tower is in Paris.\",\"Python is a "
                 "programming language.\"]}",
                 "{\"statements\":[{\"statement\":\"The Eiffel Tower is in Paris.\","
                 "\"reason\":\"The context is about a coral reef in Australia and has "
                 "nothing to do with the statement.\",\"verdict\":0},{\"statement\":\"Python "
                 "is a programming language.\",\"reason\":\"The context is about a coral "
                 "reef in Australia and has nothing to do with the statement.\","
                 "\"verdict\":0}]}"},
            },
            [PROMPT_LANG_ZH] = {
                {"{\"context\":\"李娜是一名中学数学老师，在杭州工作了十年。"
                 "她每天早上六点起床跑步，周末常去图书馆备课。\","
                 "\"statements\":[\"李娜是老师。\",\"李娜在北京工作。\",\"李娜有运动的习惯。"
                 "\",\"李娜已经结婚。\",\"李娜教英语。\"]}",
                 "{\"statements\":[{\"statement\":\"李娜是老师。\","
                 "\"reason\":\"上下文明确说李娜是一名中学数学老师。\",\"verdict\":1},"
                 "{\"statement\":\"李娜在北京工作。\",\"reason\":\"上下文说她在杭州工作，"
                 "没有提到北京。\",\"verdict\":0},{\"statement\":\"李娜有运动的习惯。\","
                 "\"reason\":\"她每天早上六点起床跑步，说明她有运动的习惯。\",\"verdict\":1},"
                 "{\"statement\":\"李娜已经结婚。\",\"reason\":\"上下文没有提到她的婚姻状况。"
                 "\",\"verdict\":0},{\"statement\":\"李娜教英语。\","
                 "\"reason\":\"上下文说她教的是数学，不是英语。\",\"verdict\":0}]}"},
                {"{\"context\":\"长江是中国最长的河流，全长约6300公里，流经十一个省级行政区。"
                 "\",\"statements\":[\"苹果富含维生素C。\",\"围棋起源于中国。\"]}",
                 "{\"statements\":[{\"statement\":\"苹果富含维生素C。\","
                 "\"reason\":\"上下文只讲长江，与这条陈述毫无关系。\",\"verdict\":0},"
                 "{\"statement\":\"围棋起源于中国。\",\"reason\":\"上下文只讲长江，"
                 "与这条陈述毫无关系。\",\"verdict\":0}]}"},
            },
        },
        "statements" },
    [PROMPT_QUESTION] = {
        "ResponseRelevanceOutput",
        "Write one question that the given response answers, and say whether the response is "
        "noncommittal. A noncommittal response evades, hedges or declines to answer (\"I don't "
        "know\", \"I'm not sure\", \"I have no information about that\"): give noncommittal 1 "
        "for such a response and 0 for a response that commits to an answer.",
        1, OBJ("\"question\":" STR ",\"noncommittal\":" BIT, "\"question\",\"noncommittal\""),
        {"response", NULL, NULL},
        {
            [PROMPT_LANG_EN] = {
                {"{\"response\":\"The Amazon River flows through Peru, Colombia and "
                 "Brazil.\"}",
                 "{\"question\":\"Which countries does the Amazon River flow through?\","
                 "\"noncommittal\":0}"},
                {"{\"response\":\"I'm not sure what the battery life of the new model is; I "
                 "haven't seen any figures for it.\"}",
                 "{\"question\":\"What is the battery life of the new model?\","
                 "\"noncommittal\":1}"},
            },
            [PROMPT_LANG_ZH] = {
                {"{\"response\":\"长城始建于春秋战国时期。\"}",
                 "{\"question\":\"长城是什么时候开始修建的？\",\"noncommittal\":0}"},
                {"{\"response\":\"我不太清楚这款新手机的续航时间，目前没有看到相关数据。\"}",
                 "{\"question\":\"这款新手机的续航时间是多久？\",\"noncommittal\":1}"},
            },
        },
        NULL },
    [PROMPT_CTX_PRECISION] = {
        "ContextPrecisionVerification",
        "Decide whether the context helped to arrive at the given answer to the question. Give "
        "the verdict 1 when the context was useful, directly or through a step of reasoning, "
        "and 0 when it was not, with the reason.",
        1, OBJ("\"reason\":" STR ",\"verdict\":" BIT, "\"reason\",\"verdict\""),
        {"answer", "question", NULL},
        {
            [PROMPT_LANG_EN] = {
                {"{\"question\":\"When did the Berlin Wall fall?\",\"context\":\"The Berlin "
                 "Wall fell on 9 November 1989, when the East German authorities opened the "
                 "border crossings.\",\"answer\":\"It fell on 9 November 1989.\"}",
                 "{\"reason\":\"The context gives the date on which the wall fell, which is "
                 "the answer.\",\"verdict\":1}"},
                {"{\"question\":\"How tall is the tallest building in Dubai?\","
                 "\"context\":\"At 828 metres, Dubai's Burj Khalifa has been the tallest "
                 "building in the world since 2010.\",\"answer\":\"The tallest building in "
                 "Dubai is 828 metres tall.\"}",
                 "{\"reason\":\"The context does not speak of the tallest building in Dubai, "
                 "but the Burj Khalifa stands in Dubai and is the tallest in the world, so "
                 "it is also the tallest in Dubai, and its height is the answer.\","
                 "\"verdict\":1}"},
                {"{\"question\":\"Who painted the Mona Lisa?\",\"context\":\"The Louvre in "
                 "Paris is the most visited museum in the world; it was a royal palace "
                 "before it opened to the public in 1793.\",\"answer\":\"Leonardo da "
                 "Vinci.\"}",
                 "{\"reason\":\"The context describes the Louvre and says nothing about who "
                 "painted the Mona Lisa, so it does not help to reach the answer.\","
                 "\"verdict\":0}"},
            },
            [PROMPT_LANG_ZH] = {
                {"{\"question\":\"秦始皇统一六国是在哪一年？\",\"context\":\"公元前221年，"
                 "秦王嬴政灭齐，完成统一，自称始皇帝。\",\"answer\":\"公元前221年。\"}",
                 "{\"reason\":\"上下文直接给出了统一的年份，正是答案。\",\"verdict\":1}"},
                {"{\"question\":\"中国最高的山峰有多高？\","
                 "\"context\":\"珠穆朗玛峰位于中国与尼泊尔边境，海拔8848.86米，是世界最高峰。"
                 "\",\"answer\":\"8848.86米。\"}",
                 "{\"reason\":\"上下文没有直接说中国最高的山峰，"
                 "但珠穆朗玛峰在中国边境上且是世界最高峰，因此也是中国最高的山峰，"
                 "它的海拔就是答案。\",\"verdict\":1}"},
                {"{\"question\":\"《红楼梦》的作者是谁？\","
                 "\"context\":\"故宫位于北京中轴线的中心，是明清两代的皇家宫殿。\","
                 "\"answer\":\"曹雪芹。\"}",
                 "{\"reason\":\"上下文介绍的是故宫，没有提到《红楼梦》或它的作者，"
                 "对得出答案没有帮助。\",\"verdict\":0}"},
            },
        },
        NULL },
    [PROMPT_CTX_RECALL] = {
        "ContextRecallClassifications",
        "Take each sentence of the answer in turn and decide whether it can be attributed to "
        "the context: 1 when the context supports it, 0 when it does not. Copy each sentence "
        "as written and give the reason for each classification.",
        1, OBJ("\"classifications\":" ARR(OBJ("\"statement\":" STR ",\"reason\":" STR
                                              ",\"attributed\":" BIT,
                                              "\"statement\",\"reason\",\"attributed\"")),
               "\"classifications\""),
        {"answer", "question", NULL},
        {
            [PROMPT_LANG_EN] = {
                {"{\"question\":\"What do you know about the Golden Gate Bridge?\","
                 "\"context\":\"The Golden Gate Bridge is a suspension bridge spanning the "
                 "strait between San Francisco Bay and the Pacific Ocean. It opened in 1937 "
                 "and was then the longest suspension bridge in the world.\","
                 "\"answer\":\"The Golden Gate Bridge is a suspension bridge in San "
                 "Francisco. It opened to traffic in 1937. Its towers are painted a colour "
                 "called International Orange. About 112,000 vehicles cross it every day.\"}",
                 "{\"classifications\":[{\"statement\":\"The Golden Gate Bridge is a "
                 "suspension bridge in San Francisco.\",\"reason\":\"The context calls it a "
                 "suspension bridge over the strait at San Francisco Bay.\","
                 "\"attributed\":1},{\"statement\":\"It opened to traffic in 1937.\","
                 "\"reason\":\"The context says it opened in 1937.\",\"attributed\":1},"
                 "{\"statement\":\"Its towers are painted a colour called International "
                 "Orange.\",\"reason\":\"The context says nothing about the colour of the "
                 "bridge.\",\"attributed\":0},{\"statement\":\"About 112,000 vehicles cross "
                 "it every day.\",\"reason\":\"The context gives no traffic figures.\","
                 "\"attributed\":0}]}"},
            },
            [PROMPT_LANG_ZH] = {
                {"{\"question\":\"介绍一下西湖。\",\"context\":\"西湖位于浙江省杭州市西部，"
                 "2011年被列入世界遗产名录。\",\"answer\":\"西湖位于杭州。"
                 "西湖在2011年成为世界遗产。西湖的面积约为6.4平方公里。\"}",
                 "{\"classifications\":[{\"statement\":\"西湖位于杭州。\","
                 "\"reason\":\"上下文说西湖位于杭州市西部。\",\"attributed\":1},"
                 "{\"statement\":\"西湖在2011年成为世界遗产。\","
                 "\"reason\":\"上下文说它在2011年被列入世界遗产名录。\",\"attributed\":1},"
                 "{\"statement\":\"西湖的面积约为6.4平方公里。\","
                 "\"reason\":\"上下文没有提到西湖的面积。\",\"attributed\":0}]}"},
            },
        },
        "classifications" },
    [PROMPT_CLASSIFY] = {
        "ClassificationWithReason",
        "Compare the statements of the answer with the statements of the ground truth and put "
        "each statement in exactly one list. TP: a statement of the answer that one or more "
        "statements of the ground truth support directly. FP: a statement of the answer that "
        "no statement of the ground truth supports. FN: a statement of the ground truth that "
        "the answer does not contain, or covers only in part. Give a reason for each.",
        1, OBJ("\"TP\":" ARR(REASONED) ",\"FP\":" ARR(REASONED) ",\"FN\":" ARR(REASONED),
               "\"TP\",\"FP\",\"FN\""),
        {"answer", "ground_truth", "question"},
        {
            [PROMPT_LANG_EN] = {
                {"{\"question\":\"What causes the seasons on Earth?\",\"answer\":[\"The "
                 "seasons are caused by the changing distance between the Earth and the "
                 "Sun.\",\"In summer a hemisphere receives more direct sunlight.\"],"
                 "\"ground_truth\":[\"The seasons are caused by the tilt of the Earth's "
                 "axis.\",\"Because of the tilt, a hemisphere receives more direct sunlight "
                 "and has longer days in summer.\",\"When it is summer in the Northern "
                 "Hemisphere, it is winter in the Southern Hemisphere.\"]}",
                 "{\"TP\":[{\"statement\":\"In summer a hemisphere receives more direct "
                 "sunlight.\",\"reason\":\"The ground truth says the same about summer "
                 "sunlight.\"}],\"FP\":[{\"statement\":\"The seasons are caused by the "
                 "changing distance between the Earth and the Sun.\",\"reason\":\"The ground "
                 "truth gives the tilt of the axis as the cause, not the distance.\"}],"
                 "\"FN\":[{\"statement\":\"The seasons are caused by the tilt of the Earth's "
                 "axis.\",\"reason\":\"The answer does not mention the tilt.\"},"
                 "{\"statement\":\"Because of the tilt, a hemisphere receives more direct "
                 "sunlight and has longer days in summer.\",\"reason\":\"The answer covers "
                 "the direct sunlight only partly: it leaves out the tilt and the longer "
                 "days.\"},{\"statement\":\"When it is summer in the Northern Hemisphere, it "
                 "is winter in the Southern Hemisphere.\",\"reason\":\"The answer says "
                 "nothing about the hemispheres having opposite seasons.\"}]}"},
                {"{\"question\":\"How many bones does an adult human have?\","
                 "\"answer\":[\"An adult human has 206 bones.\"],\"ground_truth\":[\"An "
                 "adult human skeleton has 206 bones.\",\"Babies are born with about 270 "
                 "bones, some of which fuse as they grow.\"]}",
                 "{\"TP\":[{\"statement\":\"An adult human has 206 bones.\",\"reason\":\"The "
                 "ground truth gives the same number.\"}],\"FP\":[],"
                 "\"FN\":[{\"statement\":\"Babies are born with about 270 bones, some of "
                 "which fuse as they grow.\",\"reason\":\"The answer does not mention the "
                 "bones of babies.\"}]}"},
            },
            [PROMPT_LANG_ZH] = {
                {"{\"question\":\"光合作用需要什么条件，会产生什么？\","
                 "\"answer\":[\"光合作用只需要水。\",\"光合作用会产生氧气。\"],"
                 "\"ground_truth\":[\"光合作用需要光、水和二氧化碳。\","
                 "\"光合作用产生葡萄糖和氧气。\",\"光合作用主要在叶绿体中进行。\"]}",
                 "{\"TP\":[{\"statement\":\"光合作用会产生氧气。\","
                 "\"reason\":\"参考答案说光合作用产生氧气。\"}],"
                 "\"FP\":[{\"statement\":\"光合作用只需要水。\","
                 "\"reason\":\"参考答案说还需要光和二氧化碳，“只需要水”与之不符。\"}],"
                 "\"FN\":[{\"statement\":\"光合作用需要光、水和二氧化碳。\","
                 "\"reason\":\"回答没有提到光和二氧化碳。\"},"
                 "{\"statement\":\"光合作用产生葡萄糖和氧气。\","
                 "\"reason\":\"回答只部分涵盖了这一点：提到了氧气，但遗漏了葡萄糖。\"},"
                 "{\"statement\":\"光合作用主要在叶绿体中进行。\","
                 "\"reason\":\"回答没有提到叶绿体。\"}]}"},
                {"{\"question\":\"一年有多少天？\",\"answer\":[\"平年有365天。\"],"
                 "\"ground_truth\":[\"平年有365天。\",\"闰年有366天。\"]}",
                 "{\"TP\":[{\"statement\":\"平年有365天。\","
                 "\"reason\":\"参考答案给出了相同的天数。\"}],\"FP\":[],"
                 "\"FN\":[{\"statement\":\"闰年有366天。\",\"reason\":\"回答没有提到闰年。"
                 "\"}]}"},
            },
        },
        NULL },
    [PROMPT_CORRECTNESS] = {
        "CorrectnessEvaluation",
        "You evaluate the answers of a question-answering chatbot. You are given a user's "
        "query and the answer that the chatbot generated, and you may also be given a "
        "reference answer to compare it with.\n\n"
        "Judge how relevant and how correct the generated answer is, and give one overall "
        "score with the reasoning behind it.\n\n"
        "Scoring guidelines:\n"
        "- The score is a number from 1 (the worst) to 5 (the best).\n"
        "- Give 1 when the generated answer is not relevant to the query.\n"
        "- Give a score from 2 to 3 when it is relevant but contains mistakes.\n"
        "- Give a score from 4 to 5 when it is relevant and fully correct.",
        1, OBJ("\"score\":{\"type\":\"number\"},\"reasoning\":" STR, "\"score\",\"reasoning\""),
        {"generated_answer", "query", NULL},
        {
            [PROMPT_LANG_EN] = {{NULL, "{\"score\":4.0,\"reasoning\":\"The generated answer "
                                       "gives the same facts and figures as the reference "
                                       "answer, but it is longer than it needs to be.\"}"}},
            [PROMPT_LANG_ZH] = {{NULL, "{\"score\":4.0,\"reasoning\":\"生成的答案与参考答案给出的"
                                       "事实和数字相同，但表述比需要的更长。\"}"}},
        },
        NULL },
    [PROMPT_CTX_RELEVANCE] = {
        "ContextRelevanceRating",
        "Rate how relevant the context is to the question, using only what the context and "
        "the question say and nothing you know yourself. Rate 0 when the context holds no "
        "information that helps to answer the question, 1 when it holds part of what is "
        "needed, and 2 when it holds the information that answers the question. Give the "
        "rating alone, without explaining it.",
        0, RATING, {"question", "context", NULL}, {{{NULL, NULL}}}, NULL },
    [PROMPT_CTX_RELEVANCE_ALT] = {
        "ContextRelevanceRating",
        "I am to rate the relevance of a context to a question. I will go only by what the "
        "question and the context say, and set aside anything I know myself. My rating is 0 "
        "if the context offers nothing that helps to answer the question, 1 if it offers part "
        "of the information the question needs, and 2 if it offers the information that "
        "answers the question. I give the rating and no justification.",
        0, RATING, {"question", "context", NULL}, {{{NULL, NULL}}}, NULL },
    [PROMPT_PROBE] = {
        "ProbeOutput",
        "Reply with a JSON object whose key ok is true.",
        0, OBJ("\"ok\":{\"type\":\"boolean\"}", "\"ok\""), {NULL, NULL, NULL},
        {[PROMPT_LANG_EN] = {{"{}", "{\"ok\":true}"}},
         [PROMPT_LANG_ZH] = {{"{}", "{\"ok\":true}"}}},
        NULL },
};

const char *prompts_name(enum prompt_kind k) { return prompts[k].name; }

/* A malloc'd formatted string, or NULL. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        goto out;
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
out:
    return s;
}

json_object *prompts_schema(enum prompt_kind k)
{
    return json_tokener_parse(prompts[k].schema);
}

/* The text of input[key] into buf (cap bytes, cut there): a string, or the
 * strings of an array joined by spaces. */
static void key_text(json_object *input, const char *key, char *buf, size_t cap)
{
    json_object *v, *x;
    size_t i, n, len = 0;

    buf[0] = '\0';
    if (!json_object_object_get_ex(input, key, &v))
        return;
    n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 1;
    for (i = 0; i < n && len + 1 < cap; i++) {
        x = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, i) : v;
        if (json_object_is_type(x, json_type_string))
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "",
                                    json_object_get_string(x));
    }
}

enum prompt_lang prompts_lang(enum prompt_kind k, json_object *input)
{
    char buf[LANG_TEXT_MAX];
    enum text_script sc;
    size_t i;

    for (i = 0; i < 3 && prompts[k].lang_keys[i]; i++) {
        key_text(input, prompts[k].lang_keys[i], buf, sizeof buf);
        sc = text_script(buf);
        if (sc != TEXT_SCRIPT_NONE)
            return sc == TEXT_SCRIPT_HAN ? PROMPT_LANG_ZH : PROMPT_LANG_EN;
    }
    return PROMPT_LANG_EN;
}

static const char json_rule[] =
    "Reply with one JSON object that fits this JSON Schema, with double quotes (never single "
    "quotes) and special characters escaped with a backslash:\n";

/* The worked examples of p in lang as one malloc'd text ("" for none). */
static char *examples(const struct prompt *p, enum prompt_lang lang)
{
    char *s = strdup(""), *t;
    size_t i;

    for (i = 0; s && i < MAX_EXAMPLES && p->ex[lang][i].output; i++) {
        t = fmt("%sExample %zu\nInput: %s\nOutput: %s\n\n", s, i + 1, p->ex[lang][i].input,
                p->ex[lang][i].output);
        free(s);
        s = t;
    }
    return s;
}

/* LlamaIndex's correctness: guidelines and the example in the system
 * message, the three sections in the user message. */
static int render_correctness(const struct prompt *p, json_object *input, enum prompt_lang lang,
                              char **system, char **user)
{
    json_object *q = NULL, *ref = NULL, *gen = NULL;
    const char *rs;

    json_object_object_get_ex(input, "query", &q);
    json_object_object_get_ex(input, "reference_answer", &ref);
    json_object_object_get_ex(input, "generated_answer", &gen);
    rs = json_object_is_type(ref, json_type_string) ? json_object_get_string(ref) : NULL;
    *system = fmt("%s\n%s\n\n%s%s\n\nExample reply:\n%s\n", p->instruction, PROMPTS_LANG_RULE,
                  json_rule, p->schema, p->ex[lang][0].output);
    *user = fmt("### User query\n%s\n\n### Reference answer\n%s\n\n### Generated answer\n%s\n",
                q ? json_object_get_string(q) : "",
                rs && *rs ? rs : "(NO REFERENCE ANSWER SUPPLIED)",
                gen ? json_object_get_string(gen) : "");
    return *system && *user ? 0 : -ENOMEM;
}

int prompts_render_lang(enum prompt_kind k, json_object *input, enum prompt_lang lang,
                        char **system, char **user)
{
    const struct prompt *p = &prompts[k];
    const char *in = json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
    char *ex = NULL;
    int rc = -ENOMEM;

    *system = *user = NULL;
    if (k == PROMPT_CORRECTNESS) {
        rc = render_correctness(p, input, lang, system, user);
        goto out;
    }
    if (!in || !(ex = examples(p, lang)))
        goto out;
    *user = fmt("%s\n%s%s%s%s\n\n%s%s%sNow do the same for this input.\nInput: %s\nOutput: ",
                p->instruction, p->lang_rule ? PROMPTS_LANG_RULE : "", p->lang_rule ? "\n" : "",
                json_rule, p->schema, *ex ? "--- Examples ---\n" : "", ex,
                *ex ? "--- End of the examples ---\n\n" : "", in);
    rc = *user ? 0 : -ENOMEM;
out:
    free(ex);
    if (rc < 0) {
        free(*system);
        free(*user);
        *system = *user = NULL;
    }
    return rc;
}

int prompts_render_chat(enum prompt_kind k, json_object *input, char **system, char **user)
{
    return prompts_render_lang(k, input, prompts_lang(k, input), system, user);
}

char *prompts_render(enum prompt_kind k, json_object *input)
{
    char *sys, *user, *s;

    if (prompts_render_chat(k, input, &sys, &user) < 0)
        return NULL;
    if (!sys)
        return user;
    s = fmt("%s\n%s", sys, user);
    free(sys);
    free(user);
    return s;
}

char *prompts_repair(enum prompt_kind k, const char *problem)
{
    return fmt("Your previous output did not satisfy the constraints: %s. Return the output "
               "again, complete and concise, as one JSON object that complies with this JSON "
               "Schema, and nothing else:\n%s",
               problem, prompts[k].schema);
}

/* Check v against the schema node s; path names the place for err. */
static int check(json_object *s, json_object *v, const char *path, char *err, size_t errlen)
{
    json_object *t, *props, *req, *items, *en, *x;
    const char *type;
    char sub[128];
    size_t i, n;
    double d;
    int rc = -EINVAL;

    if (!json_object_object_get_ex(s, "type", &t)) {
        rc = 0;
        goto out;
    }
    type = json_object_get_string(t);
    if (strcmp(type, "object") == 0) {
        if (!json_object_is_type(v, json_type_object)) {
            snprintf(err, errlen, "%s must be an object", path);
            goto out;
        }
        json_object_object_get_ex(s, "properties", &props);
        json_object_object_get_ex(s, "required", &req);
        n = req ? json_object_array_length(req) : 0;
        for (i = 0; i < n; i++) {
            const char *key = json_object_get_string(json_object_array_get_idx(req, i));

            if (!json_object_object_get_ex(v, key, &x)) {
                snprintf(err, errlen, "%s lacks the key \"%s\"", path, key);
                goto out;
            }
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            if (props && json_object_object_get_ex(props, key, &t) &&
                check(t, x, sub, err, errlen) < 0)
                goto out;
        }
    } else if (strcmp(type, "array") == 0) {
        if (!json_object_is_type(v, json_type_array)) {
            snprintf(err, errlen, "%s must be an array", path);
            goto out;
        }
        json_object_object_get_ex(s, "items", &items);
        n = json_object_array_length(v);
        for (i = 0; items && i < n; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (check(items, json_object_array_get_idx(v, i), sub, err, errlen) < 0)
                goto out;
        }
    } else if (strcmp(type, "string") == 0) {
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(err, errlen, "%s must be a string", path);
            goto out;
        }
    } else if (strcmp(type, "boolean") == 0) {
        if (!json_object_is_type(v, json_type_boolean)) {
            snprintf(err, errlen, "%s must be true or false", path);
            goto out;
        }
    } else {                      /* integer or number */
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
            snprintf(err, errlen, "%s must be a number", path);
            goto out;
        }
        d = json_object_get_double(v);
        if (!isfinite(d) || (strcmp(type, "integer") == 0 && d != floor(d))) {
            snprintf(err, errlen, "%s must be a finite %s", path, type);
            goto out;
        }
        if (json_object_object_get_ex(s, "enum", &en)) {
            n = json_object_array_length(en);
            for (i = 0; i < n && json_object_get_double(json_object_array_get_idx(en, i)) != d; i++)
                ;
            if (i == n) {
                snprintf(err, errlen, "%s must be one of %s", path, json_object_get_string(en));
                goto out;
            }
        }
    }
    rc = 0;
out:
    return rc;
}

int prompts_validate(enum prompt_kind k, const char *text, long n_items, json_object **out,
                     char *err, size_t errlen)
{
    json_tokener *tok = NULL;
    json_object *v = NULL, *s = NULL, *x;
    const char *p = text, *end;
    size_t len;
    double d;
    int rc = -EINVAL;

    *out = NULL;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (strncmp(p, "```", 3) == 0) {             /* ```json ... ``` */
        p += strcspn(p, "\n");
        end = strstr(p, "```");
        len = end ? (size_t)(end - p) : strlen(p);
    } else {
        len = strlen(p);
    }
    if (!(tok = json_tokener_new()) || !(s = prompts_schema(k))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, p, (int)len);
    if (!v || json_tokener_get_error(tok) != json_tokener_success) {
        snprintf(err, errlen, "the output is not valid JSON (%s)",
                 v ? "incomplete" : json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    for (end = p + json_tokener_get_parse_end(tok); end < p + len; end++)
        if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t') {
            snprintf(err, errlen, "the output has text after the JSON object");
            goto out;
        }
    if (check(s, v, "output", err, errlen) < 0)
        goto out;
    if (k == PROMPT_CORRECTNESS) {
        json_object_object_get_ex(v, "score", &x);
        d = json_object_get_double(x);
        if (d < 1.0 || d > 5.0) {
            snprintf(err, errlen, "output.score must be between 1 and 5, not %g", d);
            goto out;
        }
    }
    if (n_items >= 0 && prompts[k].list_key) {
        json_object_object_get_ex(v, prompts[k].list_key, &x);
        if ((long)json_object_array_length(x) != n_items) {
            snprintf(err, errlen, "output.%s must have %ld entries, one per input statement, "
                     "not %zu", prompts[k].list_key, n_items, json_object_array_length(x));
            goto out;
        }
    }
    *out = v;
    v = NULL;
    rc = 0;
out:
    json_object_put(v);
    json_object_put(s);
    if (tok)
        json_tokener_free(tok);
    return rc;
}
