// Commits to the store named on the command line and dies by SIGKILL, giving the store no chance
// to close: what a crash or an OOM kill leaves behind. `unlogged` as the second argument: one
// unlogged commit (alice in partition 1, as a restore writes) before the logged ones.
#include <csignal>
#include <cstdio>
#include <string_view>

#include "cdp/state/store.h"

int main(int argc, char** argv) {
  const bool unlogged = argc == 3 && std::string_view(argv[2]) == "unlogged";
  if (argc != 2 && !unlogged) {
    std::fprintf(stderr, "usage: %s STATE_DIR [unlogged]\n", argv[0]);
    return 2;
  }
  auto store = cdp::state::Store::Open(cdp::state::StoreOptions{.path = argv[1]});
  if (!store.ok()) return 1;
  cdp::v1::CustomerProfile profile;
  profile.set_customer_id("alice");
  profile.set_orders_total(7);
  cdp::state::Store::Batch batch;
  if (unlogged) {
    batch.PutProfile(cdp::Partition(1), profile);
    if (!(*store)->CommitUnlogged(cdp::Partition(1), batch).ok()) return 1;
    // A later logged commit of the same partition, as the pipeline makes after a restore.
    batch.SetOffset(cdp::Partition(1), cdp::Offset(5));
    if (!(*store)->Commit(batch).ok()) return 1;
  }
  batch.PutProfile(cdp::Partition(0), profile);
  batch.SetOffset(cdp::Partition(0), cdp::Offset(8));
  if (!(*store)->Commit(batch).ok()) return 1;
  std::raise(SIGKILL);
  return 1;
}
