// The lode command: git-style subcommands, one file per verb.
#include <CLI/CLI.hpp>
#include <clocale>
#include <cstdio>

#include "cli/commands.h"
#include "cli/output.h"

int main(int argc, char** argv) {
  // Names in tar headers are bytes; a UTF-8 ctype keeps libarchive from
  // rejecting non-ASCII names.
  std::setlocale(LC_CTYPE, "C.UTF-8");
  CLI::App app{"lode: start containers from large images by loading image data on demand"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lode 0.1.0");
  // Subcommands inherit this: an option a verb's parent defines (`lode key
  // --keys DIR create`) is accepted after the verb too (`lode key create
  // --keys DIR`).
  app.fallthrough();
  lode::cli::RegisterFlatten(app);
  lode::cli::RegisterKey(app);
  lode::cli::RegisterPush(app);
  lode::cli::RegisterExport(app);
  lode::cli::RegisterInspect(app);
  lode::cli::RegisterTag(app);
  lode::cli::RegisterAgent(app);
  lode::cli::RegisterRun(app);
  lode::cli::RegisterGc(app);
  lode::cli::RegisterSnapshot(app);
  lode::cli::RegisterFunction(app);
  lode::cli::RegisterServe(app);
  lode::cli::RegisterKeyService(app);
  lode::cli::RegisterBucketPolicy(app);
  lode::cli::RegisterSnapshotter(app);
  lode::cli::RegisterSim(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return lode::cli::UsageError(app, e);
  } catch (const lode::cli::ExitStatus& e) {
    return e.code;
  } catch (const lode::cli::CommandFailed& e) {
    std::fprintf(stderr, "lode: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
