#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "cdp/state/store.h"
#include "cdp/v1/customer_profile.pb.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace cdp::state::testing {

// A fresh directory per test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cdp-state-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "cannot create a temp directory";
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // A database directory inside, not yet created.
  [[nodiscard]] std::string db() const { return (path_ / "db").string(); }

 private:
  std::filesystem::path path_;
};

inline const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

inline std::unique_ptr<Store> OpenStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(StoreOptions{.path = path});
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

inline v1::CustomerProfile MakeProfile(std::string_view customer_id, std::int64_t orders) {
  v1::CustomerProfile profile;
  profile.set_customer_id(std::string(customer_id));
  profile.set_orders_total(orders);
  profile.set_monetary_total(orders * 1000);
  profile.add_tags("vip");
  return profile;
}

// The database opened directly, with all its column families, to plant what the store itself
// would never write.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    std::vector<std::string> names;
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    if (!rocksdb::DB::ListColumnFamilies(options, path, &names).ok()) {
      names = {rocksdb::kDefaultColumnFamilyName};
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    const rocksdb::Status opened = rocksdb::DB::Open(options, path, families, &handles_, &db);
    EXPECT_TRUE(opened.ok()) << opened.ToString();
    db_.reset(db);
    names_ = std::move(names);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() {
    if (db_ == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      EXPECT_TRUE(db_->DestroyColumnFamilyHandle(handle).ok());
    }
    EXPECT_TRUE(db_->Close().ok());
  }

  void CreateFamily(const std::string& name) {
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    const rocksdb::Status created =
        db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &handle);
    ASSERT_TRUE(created.ok()) << created.ToString();
    handles_.push_back(handle);
    names_.push_back(name);
  }

  void Put(std::string_view family, std::string_view key, std::string_view value) {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] != family) continue;
      const rocksdb::Status put =
          db_->Put(rocksdb::WriteOptions(), handles_[i], rocksdb::Slice(key.data(), key.size()),
                   rocksdb::Slice(value.data(), value.size()));
      EXPECT_TRUE(put.ok()) << put.ToString();
      return;
    }
    ADD_FAILURE() << "no column family " << family;
  }

  // The value under `key`, "" when there is none.
  std::string Get(std::string_view family, std::string_view key) {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] != family) continue;
      std::string value;
      const rocksdb::Status read = db_->Get(rocksdb::ReadOptions(), handles_[i],
                                            rocksdb::Slice(key.data(), key.size()), &value);
      EXPECT_TRUE(read.ok() || read.IsNotFound()) << read.ToString();
      return value;
    }
    ADD_FAILURE() << "no column family " << family;
    return {};
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace cdp::state::testing
