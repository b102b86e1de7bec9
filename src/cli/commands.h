// One registration function per verb; each adds its subcommand to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace lode::cli {

void RegisterFlatten(CLI::App& app);
void RegisterKey(CLI::App& app);
void RegisterPush(CLI::App& app);
void RegisterExport(CLI::App& app);
void RegisterInspect(CLI::App& app);
void RegisterTag(CLI::App& app);
void RegisterAgent(CLI::App& app);
void RegisterRun(CLI::App& app);
void RegisterGc(CLI::App& app);
void RegisterSnapshot(CLI::App& app);
// Under `lode function`.
void RegisterFunctionPublish(CLI::App* function);
void RegisterFunction(CLI::App& app);
void RegisterServe(CLI::App& app);
void RegisterKeyService(CLI::App& app);  // keyd, grant, revoke, grants
void RegisterBucketPolicy(CLI::App& app);
void RegisterSnapshotter(CLI::App& app);
void RegisterSim(CLI::App& app);

}  // namespace lode::cli
