/* cli.h: the subcommands of the hasten program; each takes its own argc/argv (after the
 * subcommand word) and returns the process exit status. */
#ifndef HASTEN_CLI_H
#define HASTEN_CLI_H

int cli_bench(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_probe(int argc, char **argv);
int cli_cost(int argc, char **argv);
int cli_gradstats(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_plot(int argc, char **argv);

#endif
