/* tt_libsvm_fork CHILD_MODEL PARENT_MODEL - trains one libsvm model on four
 * points, then forks: the child saves the model to CHILD_MODEL and exits 0,
 * the parent waits for it and saves to PARENT_MODEL. Under the shim the
 * training is one trial, the parent's; the child opened no trial, so its
 * save names none (tests/e2e/adapter_fork.sh). Exits 0, or 1 on a failure. */
#include <libsvm/svm.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void quiet(const char *s) { (void)s; }

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tt_libsvm_fork CHILD_MODEL PARENT_MODEL\n");
        return 2;
    }
    struct svm_node x[4][2] = {{{1, 0.0}, {-1, 0}}, {{1, 0.2}, {-1, 0}}, {{1, 0.8}, {-1, 0}},
                               {{1, 1.0}, {-1, 0}}};
    struct svm_node *rows[4] = {x[0], x[1], x[2], x[3]};
    double y[4] = {-1, -1, 1, 1};
    struct svm_problem prob = {4, y, rows};
    struct svm_parameter p = {.svm_type = C_SVC, .kernel_type = LINEAR, .C = 1, .eps = 1e-3,
                              .cache_size = 10, .shrinking = 1};
    svm_set_print_string_function(quiet);
    struct svm_model *m = svm_train(&prob, &p);
    if (!m)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        _exit(svm_save_model(argv[1], m) == 0 ? 0 : 1);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    return svm_save_model(argv[2], m) == 0 ? 0 : 1;
}
