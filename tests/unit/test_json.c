/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the streaming JSON writer (util/json.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "util/json.h"

START_TEST(test_empty_object)
{
	struct json_writer w;
	json_init(&w);
	json_obj_begin(&w, NULL);
	json_obj_end(&w);
	ck_assert_str_eq(json_result(&w), "{}");
	json_free(&w);
}
END_TEST

START_TEST(test_nothing_written)
{
	struct json_writer w;
	json_init(&w);
	ck_assert_str_eq(json_result(&w), "");
	json_free(&w);
}
END_TEST

START_TEST(test_members_and_commas)
{
	struct json_writer w;
	json_init(&w);
	json_obj_begin(&w, NULL);
	json_bool(&w, "ok", true);
	json_int(&w, "neg", -42);
	json_uint(&w, "big", UINT64_MAX);
	json_int(&w, "min", INT64_MIN);
	json_null(&w, "nothing");
	json_str(&w, "nullstr", NULL);
	json_bool(&w, "no", false);
	json_obj_end(&w);
	ck_assert_str_eq(json_result(&w),
		"{\"ok\":true,\"neg\":-42,\"big\":18446744073709551615,"
		"\"min\":-9223372036854775808,\"nothing\":null,\"nullstr\":null,\"no\":false}");
	json_free(&w);
}
END_TEST

START_TEST(test_nested)
{
	struct json_writer w;
	json_init(&w);
	json_obj_begin(&w, NULL);
	json_arr_begin(&w, "targets");
	json_obj_begin(&w, NULL);
	json_str(&w, "name", "iqn.x");
	json_arr_begin(&w, "luns");
	json_int(&w, NULL, 0);
	json_int(&w, NULL, 1);
	json_arr_end(&w);
	json_obj_end(&w);
	json_obj_begin(&w, NULL);
	json_obj_end(&w);
	json_arr_end(&w);
	json_arr_begin(&w, "empty");
	json_arr_end(&w);
	json_obj_begin(&w, "o");
	json_str(&w, "k", "v");
	json_obj_end(&w);
	json_obj_end(&w);
	ck_assert_str_eq(json_result(&w),
		"{\"targets\":[{\"name\":\"iqn.x\",\"luns\":[0,1]},{}],\"empty\":[],\"o\":{\"k\":\"v\"}}");
	json_free(&w);
}
END_TEST

START_TEST(test_escaping)
{
	struct json_writer w;
	json_init(&w);
	json_obj_begin(&w, NULL);
	json_str(&w, "q\"k", "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f");
	json_obj_end(&w);
	ck_assert_str_eq(json_result(&w),
		"{\"q\\\"k\":\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\"}");
	json_free(&w);
}
END_TEST

START_TEST(test_utf8_passthrough)
{
	struct json_writer w;
	json_init(&w);
	json_arr_begin(&w, NULL);
	json_str(&w, NULL, "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
	json_arr_end(&w);
	ck_assert_str_eq(json_result(&w), "[\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\"]");
	json_free(&w);
}
END_TEST

/* Bytes that are not well-formed UTF-8 (an initiator's name, say) become
 * U+FFFD: the output stays parseable JSON. */
START_TEST(test_invalid_utf8_replaced)
{
	struct json_writer w;
	json_init(&w);
	json_arr_begin(&w, NULL);
	json_str(&w, NULL, "a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf4\x90\x80\x80" "f\xe2\x82" "g\xc3\xa9");
	json_arr_end(&w);
	ck_assert_str_eq(json_result(&w), "[\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd"
				     "\\ufffdf\\ufffd\\ufffdg\xc3\xa9\"]");
	json_free(&w);
}
END_TEST

START_TEST(test_large_growth)
{
	struct json_writer w;
	json_init(&w);
	json_arr_begin(&w, NULL);
	for (int i = 0; i < 100000; i++)
		json_int(&w, NULL, i);
	json_arr_end(&w);
	const char *r = json_result(&w);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(strlen(r), w.len);
	ck_assert(strncmp(r, "[0,1,2,", 7) == 0);
	ck_assert(strcmp(r + strlen(r) - 7, ",99999]") == 0);
	json_free(&w);
}
END_TEST

START_TEST(test_too_deep)
{
	struct json_writer w;
	json_init(&w);
	for (int i = 0; i < 40; i++)
		json_arr_begin(&w, NULL);
	for (int i = 0; i < 40; i++)
		json_arr_end(&w);
	ck_assert_ptr_null(json_result(&w));
	json_free(&w);
	/* exactly as deep as supported still works */
	json_init(&w);
	for (int i = 0; i < 31; i++)
		json_arr_begin(&w, NULL);
	for (int i = 0; i < 31; i++)
		json_arr_end(&w);
	ck_assert_ptr_nonnull(json_result(&w));
	ck_assert_uint_eq(strlen(json_result(&w)), 62);
	json_free(&w);
}
END_TEST

START_TEST(test_free_twice)
{
	struct json_writer w;
	json_init(&w);
	json_str(&w, NULL, "x");
	ck_assert_str_eq(json_result(&w), "\"x\"");
	json_free(&w);
	json_free(&w);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("structure");
	tcase_add_test(tc, test_empty_object);
	tcase_add_test(tc, test_nothing_written);
	tcase_add_test(tc, test_members_and_commas);
	tcase_add_test(tc, test_nested);
	suite_add_tcase(s, tc);
	tc = tcase_create("strings");
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_utf8_passthrough);
	tcase_add_test(tc, test_invalid_utf8_replaced);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_large_growth);
	tcase_add_test(tc, test_too_deep);
	tcase_add_test(tc, test_free_twice);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
