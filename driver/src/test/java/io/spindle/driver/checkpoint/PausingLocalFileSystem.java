package io.spindle.driver.checkpoint;

import java.io.IOException;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/** Hadoop's local file system, pausing where {@link CheckpointPause} says (tests only). */
public class PausingLocalFileSystem extends LocalFileSystem {
  @Override
  public FSDataOutputStream create(
      Path f,
      FsPermission permission,
      boolean overwrite,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    CheckpointPause.beforeCreate(getConf(), f);
    return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
  }
}
