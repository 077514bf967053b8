#include "csv.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::tools::replay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every record, or the first error's message.
struct Read {
  std::vector<CsvRecord> records;
  std::vector<std::string> errors;
};

Read ReadAll(const std::string& text) {
  std::istringstream in(text);
  CsvReader reader("in.csv", in);
  Read read;
  CsvRecord record;
  while (true) {
    absl::StatusOr<bool> next = reader.Next(record);
    if (!next.ok()) {
      read.errors.emplace_back(next.status().message());
      continue;
    }
    if (!*next) break;
    read.records.push_back(record);
  }
  return read;
}

TEST(CsvReaderTest, SplitsPlainFieldsAndKeepsEmptyOnes) {
  const Read read = ReadAll("a,b,c\n1,,3\n,,\n");
  ASSERT_TRUE(read.errors.empty());
  ASSERT_EQ(read.records.size(), 3U);
  EXPECT_THAT(read.records[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_THAT(read.records[1].fields, ElementsAre("1", "", "3"));
  EXPECT_THAT(read.records[2].fields, ElementsAre("", "", ""));
  EXPECT_EQ(read.records[2].line, 3);
}

TEST(CsvReaderTest, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  const Read read = ReadAll(
      "id,text\n"
      "1,\"a, b\"\n"
      "2,\"say \"\"hi\"\"\"\n"
      "3,\"two\nlines\"\n"
      "4,\"\"\n"
      "5,after\n");
  ASSERT_TRUE(read.errors.empty()) << read.errors[0];
  ASSERT_EQ(read.records.size(), 6U);
  EXPECT_THAT(read.records[1].fields, ElementsAre("1", "a, b"));
  EXPECT_THAT(read.records[2].fields, ElementsAre("2", "say \"hi\""));
  EXPECT_THAT(read.records[3].fields, ElementsAre("3", "two\nlines"));
  EXPECT_EQ(read.records[3].line, 4);
  EXPECT_THAT(read.records[4].fields, ElementsAre("4", ""));
  // Lines are counted through the quoted line break.
  EXPECT_EQ(read.records[5].line, 7);
}

TEST(CsvReaderTest, AcceptsCrlfAByteOrderMarkAndBlankLines) {
  const Read read = ReadAll("\xEF\xBB\xBFid,name\r\n\r\n1,\"x\r\ny\"\r\n\n2,z\r\n");
  ASSERT_TRUE(read.errors.empty()) << read.errors[0];
  ASSERT_EQ(read.records.size(), 3U);
  EXPECT_THAT(read.records[0].fields, ElementsAre("id", "name"));
  EXPECT_THAT(read.records[1].fields, ElementsAre("1", "x\ny"));
  EXPECT_EQ(read.records[1].line, 3);
  EXPECT_THAT(read.records[2].fields, ElementsAre("2", "z"));
  EXPECT_EQ(read.records[2].line, 6);
}

TEST(CsvReaderTest, MalformedQuotingNamesTheLineAndReadingGoesOn) {
  const Read read = ReadAll(
      "id,text\n"
      "1,ab\"c\n"
      "2,\"ab\"c\n"
      "3,ok\n");
  EXPECT_THAT(read.errors,
              ElementsAre(HasSubstr("in.csv:2: field 2 has a quote but does not start with one"),
                          HasSubstr("in.csv:3: field 2 has text after its closing quote")));
  EXPECT_THAT(read.errors[0], HasSubstr("double each quote"));
  ASSERT_EQ(read.records.size(), 2U);
  EXPECT_THAT(read.records[1].fields, ElementsAre("3", "ok"));
}

TEST(CsvReaderTest, AnUnclosedQuoteIsReportedAtTheLineItOpensOn) {
  const Read read = ReadAll("id,text\n1,\"never closed\n2,more\n");
  EXPECT_THAT(read.errors, ElementsAre("in.csv:2: the quoted field 2 is not closed by the end of "
                                       "the input"));
  ASSERT_EQ(read.records.size(), 1U);
}

}  // namespace
}  // namespace cdp::tools::replay
