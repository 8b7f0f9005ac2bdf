/* tt_own_train - a program with its OWN functions named like liblinear's
 * (train, predict, cross_validation, save_model): under the shim they must
 * run untouched (tests/e2e/adapter_passthrough.sh), with no adapter trial
 * and byte-identical output. Prints what its own functions computed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Not static, so the names exist as global symbols like liblinear's. */
double train(const double *x, int n);
double predict(double w, double x);
void cross_validation(const double *x, int n, double *out);
int save_model(const char *path, double w);

double train(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return s / n;
}

double predict(double w, double x) { return w * x; }

void cross_validation(const double *x, int n, double *out)
{
    for (int i = 0; i < n; i++)
        out[i] = predict(train(x, n), x[i]);
}

int save_model(const char *path, double w)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "w %.6f\n", w);
    return fclose(f);
}

int main(int argc, char **argv)
{
    double x[] = {1, 2, 3, 4};
    double cv[4];
    errno = 0;
    double w = train(x, 4);
    cross_validation(x, 4, cv);
    printf("own train: w=%.3f predict(2)=%.3f cv=%.2f,%.2f,%.2f,%.2f errno=%d\n", w, predict(w, 2),
           cv[0], cv[1], cv[2], cv[3], errno);
    if (argc > 1 && save_model(argv[1], w) != 0)
        return 2;
    return 0;
}
