import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

public class Runs {
  public static void main(String[] args) throws SQLException {
    URI url = URI.create(System.getenv("PROCGATE_URL"));
    String[] user = url.getUserInfo().split(":", 2);
    String jdbc = "jdbc:postgresql://" + url.getHost() + ":" + url.getPort() + url.getPath();
    try (Connection conn = DriverManager.getConnection(jdbc, user[0], user[1]);
         PreparedStatement call = conn.prepareStatement(
             "CALL sensor_stats(readings => TABLE (readings) PARTITION BY sensor, scale => ?) INTO sensor_summary")) {
      call.setInt(1, 2);
      // CALL waits for the run and returns it as a row; Statement.cancel() would kill it.
      try (ResultSet run = call.executeQuery()) {
        run.next();
        System.out.println("run " + run.getString("run_id") + ": " + run.getString("state"));
      }
    }
  }
}
