// Commits one batch to the store named on the command line and dies by SIGKILL, giving the
// store no chance to close: what a crash or an OOM kill leaves behind.
#include <csignal>
#include <cstdio>

#include "cdp/state/store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s STATE_DIR\n", argv[0]);
    return 2;
  }
  auto store = cdp::state::Store::Open(cdp::state::StoreOptions{.path = argv[1]});
  if (!store.ok()) return 1;
  cdp::v1::CustomerProfile profile;
  profile.set_customer_id("alice");
  profile.set_orders_total(7);
  cdp::state::Store::Batch batch;
  batch.PutProfile(cdp::Partition(0), profile);
  batch.SetOffset(cdp::Partition(0), cdp::Offset(8));
  if (!(*store)->Commit(batch).ok()) return 1;
  std::raise(SIGKILL);
  return 1;
}
