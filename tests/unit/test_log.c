/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for util/log.c: no message is lost when threads log at once.
 * libqb drops a message logged while another thread is inside qb_log (its
 * process-wide in_logger flag); tandemd's qb_log goes through tlog_log_,
 * which serialises them. Before, 4 threads x 20000 lines kept about 20000. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/log.h"

#define THREADS 4
#define LINES 5000

static void *log_lines(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < LINES; i++)
		qb_log(LOG_NOTICE, "test_log thread %ld line %d", id, i);
	return NULL;
}

/* lines of f that contain "test_log thread" */
static long count_lines(FILE *f)
{
	char line[512];
	long n = 0;

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "test_log thread"))
			n++;
	return n;
}

/* THREADS threads log LINES lines each into stderr, redirected to a file,
 * while the main thread flips the level level_flips times between INFO and
 * DEBUG; returns how many of the lines were written */
static long log_from_threads(int level_flips)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	pthread_t t[THREADS];
	long n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(saved, 0);
	fflush(stderr);
	ck_assert_int_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	tlog_init("test_log", true, LOG_INFO);
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, log_lines, (void *)i), 0);
	for (int i = 0; i < level_flips; i++)
		tlog_set_level(i % 2 ? LOG_DEBUG : LOG_INFO);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	tlog_fini();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = count_lines(f);
	fclose(f);
	return n;
}

START_TEST(test_concurrent_lines_all_written)
{
	ck_assert_int_eq(log_from_threads(0), (long)THREADS * LINES);
}
END_TEST

/* a level change while other threads log: every line at or above the
 * level, before and after, is written (libqb clears and re-adds the filters:
 * nothing passed in between) */
START_TEST(test_level_change_while_logging)
{
	ck_assert_int_eq(log_from_threads(200), (long)THREADS * LINES);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_concurrent_lines_all_written);
	tcase_add_test(tc, test_level_change_while_logging);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
